"""`symzoo leaderboard`: the built-in recipes validate, a reduced `tiny` recipe (two domains, one
epoch, one seed, a breaking sweep) runs end to end, reuses its grids (and one run by hand with
`symzoo compare`), re-renders from JSON, and bad input is a one-line error that writes nothing."""

import json
import math
import re

import pytest
import yaml
from symzoo.eval.leaderboard import crossover, load_leaderboard, load_recipe, recipe_path

from symzoo.cli import main
from symzoo.errors import SymzooError
from symzoo.registry import get_task

KEEP = {"nbody-charged": [20, 40], "lorenz96-8": [30, 60]}


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_builtin_recipes_cover_every_domain(name):
    rec = load_recipe(name)
    domains = {e.domain for e in rec["entries"]}
    # the recipes' older words (forcefield, robots) are aliases: each row takes its task's domain
    assert domains == {"nbody", "hamiltonian", "atoms", "robotics", "forecasting", "flows"}
    for e in rec["entries"]:
        task = get_task(e.task)
        assert e.domain == task.domain and e.domain_label == task.domain_label
    for e in rec["entries"]:
        assert e.augmented and e.augmented.endswith("+aug") and e.equivariant != e.plain
    assert any(e.breaking for e in rec["entries"])


def _mini_recipe(tmp_path):
    """The tiny recipe cut to two domains with smaller sizes (a CI-sized run of the same code)."""
    raw = yaml.safe_load(recipe_path("tiny").read_text())
    raw["tasks"] = [t for t in raw["tasks"] if t["task"] in KEEP]
    for t in raw["tasks"]:
        t["train_sizes"] = KEEP[t["task"]]
        t["rollout_trajectories"] = 2
        if t.get("breaking"):
            t["breaking"] = {"strengths": [0, 1.5], "train_sizes": [60]}
    raw.update(seeds=1, overrides=["trainer.max_epochs=1", "trainer.check_val_every_n_epoch=1"])
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_leaderboard_runs_reuses_and_rerenders(tmp_path, capsys):
    recipe = _mini_recipe(tmp_path)
    out = tmp_path / "lb"
    # a grid run by hand, exactly as the leaderboard would run it: reused, not retrained
    assert (
        main(
            [
                "compare",
                "lorenz96-8",
                "trainer.max_epochs=1",
                "trainer.check_val_every_n_epoch=1",
                "--models",
                "circnet,mlp,mlp+aug",
                "--train-sizes",
                "30,60",
                "--seeds",
                "1",
                "--preset",
                "tiny",
                "--reference",
                "circnet",
                "--rollout-trajectories",
                "2",
                "--jobs",
                "1",
                "--threads",
                "1",
                "--out",
                str(out / "lorenz96-8"),
            ]
        )  # fmt: skip
        == 0
    )
    capsys.readouterr()
    argv = ["leaderboard", "-c", str(recipe), "--out", str(out), "--jobs", "1", "--threads", "1"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "lorenz96-8: 6/6 cells (trained 0, reused 6)" in text
    doc = load_leaderboard(out)
    rows = {r["task"]: r for r in doc["tasks"]}
    assert set(rows) == set(KEEP) and doc["missing"] == []
    nb, lz = rows["nbody-charged"], rows["lorenz96-8"]
    assert nb["roles"] == {"egnn": "equivariant", "mlp": "baseline", "mlp+aug": "augmented"}
    for r in (nb, lz):
        for b in ("plain", "augmented"):
            g = r["gain"][b][str(max(KEEP[r["task"]]))]
            assert g["n"] == 1 and math.isfinite(g["mean"]) and g["mean"] > 0
        assert r["efficiency"]["plain"]["bound"] in ("=", ">", "<=")
        assert r["physics"]["metric"] and r["physics"]["values"]["equivariant"]["n"] == 1
    assert set(nb["orbit"]) == {"equivariant", "plain", "augmented"} and lz["orbit"] == {}
    assert nb["physics"]["metric"] == "energy_drift" and lz["physics"]["metric"] == "vpt"
    br = lz["breaking"]
    assert br["strengths"] == [0.0, 1.5] and br["knob"] == "forcing_amplitude"
    assert br["by_size"]["60"]["crossover"]["bound"] in ("=", ">", "<")
    # results.json exactly as `symzoo compare` writes it, for every grid
    for d in ("nbody-charged", "lorenz96-8", "lorenz96-8-breaking"):
        assert json.loads((out / d / "results.json").read_text())["format"] == "symzoo-compare/1"
    md = (out / "leaderboard.md").read_text()
    assert "| N-body |" in md and "| Forecasting |" in md and "leaderboard.png" in md
    assert (out / "leaderboard.png").stat().st_size > 5000

    # resumable: nothing retrained; re-rendering from JSON only
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert again.count("(trained 0, ") == 3 and not re.search(r"trained [1-9]", again)
    md = (out / "leaderboard.md").read_text()
    (out / "leaderboard.md").unlink()
    assert main(["leaderboard", "--report", str(out)]) == 0
    assert (out / "leaderboard.md").read_text() == md


def test_crossover():
    assert crossover([0, 1, 2], [4.0, 2.0, 0.5])["bound"] == "="
    c = crossover([0, 1, 2], [4.0, 2.0, 0.5])
    assert 1 < c["strength"] < 2
    assert crossover([0, 1], [3.0, 2.0]) == {"strength": 1.0, "bound": ">"}
    assert crossover([0, 1], [0.9, 2.0])["bound"] == "<"
    assert crossover([0], [float("nan")])["bound"] == "?"


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--preset", "nope"], "unknown leaderboard recipe"),
        (["--tasks", "spring"], "not in recipe"),
        (["--executor", "ray://x"], "--executor"),
        (["--jobs", "0"], "--jobs"),
        (["oops"], "overrides look like key=value"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, argv, msg):
    out = tmp_path / "lb"
    assert main(["leaderboard", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_bad_recipe(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text(
        "tasks:\n  - {domain: nbody, task: nbody-charged, equivariant: egnn, plain: mlp, train_sizes: [5], typo: 1}\n"
    )
    with pytest.raises(SymzooError, match="unknown key"):
        load_recipe(p)
    p.write_text(
        "tasks:\n  - {domain: space, task: nbody-charged, equivariant: egnn, plain: mlp, train_sizes: [5]}\n"
    )
    with pytest.raises(SymzooError, match="not the domain of task 'nbody-charged'"):
        load_recipe(p)
    p.write_text(
        "tasks:\n  - {domain: nbody, task: no-such-task, equivariant: egnn, plain: mlp, train_sizes: [5]}\n"
    )
    with pytest.raises(SymzooError, match="unknown task"):
        load_recipe(p)
