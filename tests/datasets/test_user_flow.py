"""A flow of one's own (issue 20, item 4): the ``flow`` task from a user's snapshots npz with
declared field kinds, grid checks, and training/evaluation through the CLI."""

import json

import numpy as np
import pytest
import torch
from symzoo.datasets.flows import VorticitySolver, kolmogorov_forcing, random_vorticity
from symzoo.datasets.user_flow import curl

import symzoo
from symzoo.cli import main
from symzoo.errors import InputError

N = 16


def _snapshots(n_traj=4, frames=10, seed=0):
    solver = VorticitySolver(N, nu=0.01, drag=0.1, forcing=kolmogorov_forcing(N))
    traj = solver.simulate(random_vorticity(n_traj, N, rms=2.0, seed=seed), 0.25, frames - 1)
    return solver, traj.transpose(0, 1).numpy()  # [n_traj, frames, n, n]


@pytest.fixture()
def snapshots(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    solver, w = _snapshots()
    np.savez(tmp_path / "snap.npz", w=w.astype(np.float32), f=kolmogorov_forcing(N).numpy())
    return tmp_path, solver, w


def test_user_flow_trained_and_evaluated_through_the_cli(snapshots, capsys):
    tmp, _, w = snapshots
    run = tmp / "run"
    args = ["data.task_args.path=snap.npz", "data.task_args.kind=pseudoscalar", "data.task_args.forcing=f",
            "data.task_args.forcing_kind=pseudoscalar", "data.task_args.frame_dt=0.25"]  # fmt: skip
    # a plain CNN here; the D4-steerable CNN runs in tests/datasets/test_byo_docs.py, and after this
    # test's float64 evaluation a steerable-cnn of another size must still build (escnn's cache)
    code = main(["train", "flow", "cnn", "--preset", "tiny", "--out", str(run), "--quiet", *args,
                 "trainer.max_epochs=1", "model.args.width=4"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["task"] == "flow" and rep["n_test"] == 9  # 1 test trajectory x (10 - 1) starts
    assert rep["equivariance"]["errors"]["all"] > 1e-4  # a plain CNN: not D4-equivariant
    assert np.isfinite(rep["metrics"]["w_rmse"]) and rep["rollout"]["steps"] == 9
    # the test split is the last trajectory of the file, frame for frame
    task = symzoo.get_task(
        "flow", path="snap.npz", kind="pseudoscalar", forcing="f", forcing_kind="pseudoscalar"
    )
    _, _, test = task.splits("tiny")
    assert torch.allclose(test.fields["w"][0], torch.from_numpy(w[3, 0]).float())
    assert torch.allclose(test.fields["y"][0, 0], torch.from_numpy(w[3, 1]).float())


def test_field_kinds_are_declared_and_honoured(snapshots, capsys):
    tmp, solver, w = snapshots
    with pytest.raises(InputError, match="declare the field kind of the state"):
        symzoo.get_task("flow", path="snap.npz")
    with pytest.raises(InputError, match="declare the field kind of the forcing"):
        symzoo.get_task("flow", path="snap.npz", kind="pseudoscalar", forcing="f")
    # a scalar field: the group acts on it without the sign flip; steerable-cnn (pseudo-scalar
    # inputs) is refused before anything is written, cnn is fine
    scalar = symzoo.get_task("flow", path="snap.npz", kind="scalar")
    assert scalar.input_fields["w"].rep.kind == "scalar"
    code = main(["train", "flow", "steerable-cnn", "--preset", "tiny", "--out", str(tmp / "never"), "--quiet",
                 "data.task_args.path=snap.npz", "data.task_args.kind=scalar"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "treats its fields as pseudo-scalars" in err[0], err
    assert not (tmp / "never").exists()
    # a velocity (vector) state becomes its vorticity, a pseudo-scalar
    u = solver.velocity(torch.from_numpy(w)).numpy()  # [traj, frames, 2, n, n]
    np.savez(tmp / "vel.npz", u=u)
    vec = symzoo.get_task("flow", path="vel.npz", field="u", kind="vector")
    assert vec.input_fields["w"].rep.kind == "pseudoscalar"
    assert np.allclose(vec._state, w, atol=1e-4)


def test_curl_turns_the_vector_action_into_the_pseudoscalar_action():
    from symzoo.groups import GridRep

    task = symzoo.get_task("kolmogorov2d")
    vec, pseudo = GridRep(task.group, "vector"), GridRep(task.group, "pseudoscalar")
    u = torch.randn(1, 2, N, N, dtype=torch.float64)
    for i in range(len(task.group.elements())):
        gu = vec._act_one(u, i).numpy()
        assert np.allclose(
            curl(gu), pseudo._act_one(torch.from_numpy(curl(u.numpy())), i).numpy(), atol=1e-9
        ), i


def test_grid_checks(tmp_path):
    bad = {
        "square": np.zeros((2, 5, 8, 10)),
        "even": np.zeros((2, 5, 9, 9)),
        "finite": np.full((2, 5, 8, 8), np.nan),
        "frames": np.zeros((2, 2, 8, 8)),
    }
    for what, arr in bad.items():
        np.savez(tmp_path / f"{what}.npz", w=arr)
        with pytest.raises(InputError) as e:
            symzoo.get_task("flow", path=str(tmp_path / f"{what}.npz"), kind="pseudoscalar")
        assert "\n" not in str(e.value)
        assert {"square": "square grid", "even": "even size", "finite": "NaN", "frames": "frames"}[
            what
        ] in str(e.value)
    np.savez(tmp_path / "one.npz", w=np.random.default_rng(0).normal(size=(20, 8, 8)))
    tr, va, te = symzoo.get_task("flow", path=str(tmp_path / "one.npz"), kind="scalar").splits("tiny")
    assert (len(tr), len(va), len(te)) == (13, 1, 3)  # one trajectory cut in time: 14 / 2 / 4 frames
    with pytest.raises(InputError, match="needs data.task_args.path"):
        symzoo.get_task("flow").splits("tiny")


def test_steerable_cnn_builds_after_another_was_evaluated_in_float64():
    """escnn's kernel bases compare their tensors in ``__eq__``: converting a copy to float64 with
    ``.double()`` used to fail ("Double did not match Float") once another size had been built and
    evaluated in float64 in the same process."""
    from symzoo.testing import assert_equivariant

    task = symzoo.get_task("kolmogorov2d")
    small = symzoo.create_model("steerable-cnn", hidden=2, layers=2)
    assert_equivariant(small, task)
    big = symzoo.create_model("steerable-cnn")
    errs = assert_equivariant(big, task)
    assert errs[torch.float64]["all"] < 1e-12
