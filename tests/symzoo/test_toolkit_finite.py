"""symzoo.testing on finite groups: every element is checked, grids and plain vectors alike."""

import pytest
import torch
from torch import nn

from symzoo.groups import GridRep, dihedral, signed_permutation_group
from symzoo.task import ArrayDataset, Field, Task
from symzoo.testing import assert_equivariant, equivariance_errors


class GridTask(Task):
    name = "toy-grid"
    presets = {"tiny": {}}

    def __init__(self):
        self.group = dihedral(4)
        w = GridRep(self.group, "pseudoscalar")
        self.input_fields = {"w": Field(w, "graph")}
        self.output_fields = {"w_next": Field(w, "graph")}

    def splits(self, preset=None, seed=0):
        ds = ArrayDataset({"w": torch.randn(6, 8, 8, generator=torch.Generator().manual_seed(seed))})
        return ds, ds, ds


class Laplacian(nn.Module):  # D4-equivariant (the 5-point stencil is square-symmetric)
    symmetry = ("rot", "flip")

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.3))

    def forward(self, batch):
        w = batch.w
        lap = sum(torch.roll(w, s, d) for s in (1, -1) for d in (-1, -2)) - 4 * w
        return {"w_next": w + self.a * lap}


class Advect(Laplacian):  # a derivative along x: neither rotation- nor (y-)flip-... only flip-equivariant
    symmetry = ("flip",)

    def forward(self, batch):
        w = batch.w
        return {"w_next": w + self.a * (torch.roll(w, -1, -1) - torch.roll(w, 1, -1))}


def test_every_element_of_d4_on_a_grid():
    task = GridTask()
    res = assert_equivariant(Laplacian(), task)
    assert set(res[torch.float64]) == {"rot", "flip", "all"}
    errs = equivariance_errors(Advect(), task)
    assert errs["flip"] < 1e-12  # y -> -y leaves an x-derivative alone
    assert errs["rot"] > 1e-3 and errs["all"] > 1e-3
    assert_equivariant(Advect(), task)  # checks exactly what it claims
    with pytest.raises(AssertionError, match="rot"):
        assert_equivariant(Advect(), task, factors=["rot"])


def test_nan_model_fails_on_finite_groups():
    model = Laplacian()
    with torch.no_grad():
        model.a.fill_(float("nan"))
    with pytest.raises(AssertionError, match="nan"):
        assert_equivariant(model, GridTask())


class JointTask(Task):
    name = "toy-joints"
    presets = {"tiny": {}}

    def __init__(self):
        self.group, reps = signed_permutation_group(
            "K4",
            {
                "sagittal": {"q": {"perm": [1, 0, 2], "signs": [1, 1, -1]}},
                "hips": {"q": {"perm": [0, 1, 2], "signs": [-1, -1, 1]}},
            },
        )
        self.input_fields = {"q": Field(reps["q"], "graph")}
        self.output_fields = {"tau": Field(reps["q"], "graph")}

    def splits(self, preset=None, seed=0):
        ds = ArrayDataset({"q": torch.randn(5, 3, generator=torch.Generator().manual_seed(seed))})
        return ds, ds, ds


class OddCubic(nn.Module):  # tau = q^3 elementwise commutes with every signed permutation
    symmetry = ("sagittal", "hips")

    def forward(self, batch):
        return {"tau": batch.q**3}


def test_signed_permutation_task_through_the_toolkit():
    task = JointTask()
    errs = assert_equivariant(OddCubic(), task)[torch.float64]
    assert set(errs) == {"sagittal", "hips", "all"} and max(errs.values()) < 1e-12
    task.validate_batch(task.example_batch(2))
