"""Toy robot tasks (not registered) for the robot-model tests: signed-permutation symmetries of
C2, K4 and D4 on a 4-legged, 2-joints-per-leg robot, inverse dynamics and CoM-momentum layouts."""

from __future__ import annotations

import torch

from symzoo.groups import signed_permutation_group
from symzoo.task import ArrayDataset, Field, Task

# legs FL, FR, HL, HR with joints (abduction, flexion): 8 joints
SAGITTAL = {"perm": [2, 3, 0, 1, 6, 7, 4, 5], "signs": [-1, 1] * 4}  # left <-> right, abduction flips
TRANSVERSAL = {"perm": [4, 5, 6, 7, 0, 1, 2, 3], "signs": [1, -1] * 4}  # front <-> hind, flexion flips
# D4 on a square robot: legs 0..3 around the body; rotation by 90° moves leg i to i+1
ROT = {"perm": [6, 7, 0, 1, 2, 3, 4, 5], "signs": [1] * 8}
FLIP = {"perm": [2, 3, 0, 1, 6, 7, 4, 5], "signs": [-1, 1] * 4}
# base momentum [l, k]: sagittal mirror y -> -y (k is a pseudo-vector), transversal x -> -x
MOM_SAG = {"perm": [0, 1, 2, 3, 4, 5], "signs": [1, -1, 1, -1, 1, -1]}
MOM_TRA = {"perm": [0, 1, 2, 3, 4, 5], "signs": [-1, 1, 1, 1, -1, -1]}

SPECS = {
    "C2": {"sagittal": {"q": SAGITTAL, "v": SAGITTAL, "momentum": MOM_SAG}},
    "K4": {
        "sagittal": {"q": SAGITTAL, "v": SAGITTAL, "momentum": MOM_SAG},
        "transversal": {"q": TRANSVERSAL, "v": TRANSVERSAL, "momentum": MOM_TRA},
    },
    "D4": {"rot": {"q": ROT, "v": ROT}, "flip": {"q": FLIP, "v": FLIP}},
}


class ToyRobotTask(Task):
    """``kind="id"``: (q, qd, qdd) -> tau; ``kind="com"``: (q, qd) -> momentum."""

    presets = {"tiny": {}}
    domain = "robotics"

    def __init__(self, group: str = "K4", kind: str = "id", n: int = 6):
        self.name = f"toy-{group.lower()}-{kind}"
        self.kind, self.n = kind, n
        self.group, reps = signed_permutation_group(group, SPECS[group])
        q, v = Field(reps["q"], "graph"), Field(reps["v"], "graph")
        if kind == "id":
            self.input_fields = {"q": q, "qd": v, "qdd": v}
            self.output_fields = {"tau": v}
        else:
            self.input_fields = {"q": q, "qd": v}
            self.output_fields = {"momentum": Field(reps["momentum"], "graph")}
        self.target_fields = {}

    def splits(self, preset=None, seed=0):
        g = torch.Generator().manual_seed(seed)
        fields = {k: torch.randn(self.n, 8, generator=g, dtype=torch.float64) for k in self.input_fields}
        ds = ArrayDataset(fields)
        return ds, ds, ds
