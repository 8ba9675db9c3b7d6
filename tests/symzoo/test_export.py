"""symzoo export: a standalone .pt2 force field gives the model's energies, forces and stress
in a fresh process where symzoo, e3nn and torch-geometric cannot be imported."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from symzoo.models._atoms import neighbor_list

import symzoo
from symzoo.errors import InputError
from symzoo.export import export_forcefield

BLOCKED_RUN = textwrap.dedent(
    """
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("symzoo", "e3nn", "torch_geometric", "escnn", "ase"):
                raise ImportError("blocked: " + name)
            return None
    sys.meta_path.insert(0, Block())
    import json, torch
    extra = {"symzoo.json": ""}
    prog = torch.export.load(sys.argv[1], extra_files=extra).module()
    cases = torch.load(sys.argv[2], weights_only=True)
    out = {}
    for k, (pos, z, ei, shifts, cell) in cases.items():
        e, f, v = prog(pos, z, ei, shifts, cell)
        out[k] = (e, f, v)
    torch.save(out, sys.argv[3])
    print(json.loads(extra["symzoo.json"])["cutoff_A"])
    """
)


def _inputs(batch, model):
    pos, z = batch.pos.double(), batch.z.long()
    cell = getattr(batch, "cell", None)
    pbc = getattr(batch, "pbc", None)
    b = torch.zeros(len(z), dtype=torch.long)
    ei, vec = neighbor_list(pos, b, 1, model.cutoff, cell, pbc)
    c = torch.zeros(3, 3, dtype=torch.float64) if cell is None else cell.reshape(3, 3).double()
    disp = vec - (pos[ei[1]] - pos[ei[0]])
    shifts = torch.zeros_like(disp) if cell is None else torch.round(disp @ torch.linalg.inv(c))
    return pos, z, ei, shifts, c


@pytest.mark.parametrize(
    "name",
    ["nequip", pytest.param("schnet", marks=pytest.mark.slow), pytest.param("painn", marks=pytest.mark.slow)],
)
def test_export_parity_in_a_process_without_symzoo(name, tmp_path):
    from symzoo.datasets.atoms import make_structure
    from torch_geometric.data import Batch

    kw = {
        "schnet": {"channels": 16, "layers": 2},
        "painn": {"channels": 16, "layers": 2},
        "nequip": {"channels": 8, "l_max": 1, "layers": 2},
    }[name]
    torch.manual_seed(0)
    model = symzoo.create_model(name, cutoff=3.5, **kw).double().eval()
    ethanol = symzoo.get_task("rmd17-ethanol").example_batch(1)
    aspirin = symzoo.get_task("rmd17-aspirin").example_batch(1)
    rng = np.random.default_rng(0)
    fcc = np.array([[0, 0, 0], [1.8, 1.8, 0], [1.8, 0, 1.8], [0, 1.8, 1.8], [0, 0, 3.6], [1.8, 1.8, 3.6]])
    cu = make_structure(
        fcc + rng.normal(0, 0.05, (6, 3)),
        [29] * 6,
        0.0,
        np.zeros((6, 3)),
        cell=np.diag([3.6, 3.6, 7.2]),
        pbc=[True, True, True],
    )
    cases = {"ethanol": ethanol, "aspirin": aspirin, "cu": Batch.from_data_list([cu])}
    path = tmp_path / f"{name}.pt2"
    export_forcefield(model, path)
    torch.save({k: _inputs(b, model) for k, b in cases.items()}, tmp_path / "cases.pt")
    res = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, str(path), str(tmp_path / "cases.pt"), str(tmp_path / "out.pt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert float(res.stdout.strip()) == 3.5
    got = torch.load(tmp_path / "out.pt", weights_only=True)
    for k, b in cases.items():
        ref = model(b, compute_stress=(k == "cu"))
        e, f, v = got[k]
        assert torch.allclose(e, ref["energy"][0], rtol=1e-12, atol=1e-10), k
        assert torch.allclose(f, ref["forces"], rtol=1e-10, atol=1e-10), k
        if k == "cu":
            vol = torch.linalg.det(b.cell.reshape(3, 3)).abs()
            assert torch.allclose(v / vol, ref["stress"][0], rtol=1e-9, atol=1e-10)


def test_export_refuses_what_it_cannot_export(tmp_path):
    with pytest.raises(InputError, match="only energy models"):
        export_forcefield(symzoo.create_model("egnn"), tmp_path / "x.pt2")
    with pytest.raises(InputError, match=r"must end in \.pt2"):
        export_forcefield(symzoo.create_model("schnet", channels=8, layers=1), tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []
    res = subprocess.run(
        [sys.executable, "-m", "symzoo", "export", "egnn.nbody-charged", str(tmp_path / "e.pt2")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "only energy models" in res.stderr
    assert list(tmp_path.iterdir()) == []
