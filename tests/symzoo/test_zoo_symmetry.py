"""The zoo's symmetry column and cards name the group from each entry's task (K4, D4, C2, C8, ...)."""

from __future__ import annotations

import pytest

import symzoo
from symzoo import hub
from symzoo.cards import render_card, summary_rows, symmetry_group
from symzoo.cli import main


@pytest.fixture(scope="module")
def reg() -> dict[str, dict]:
    return hub.registry()


def test_every_entry_names_its_tasks_group(reg):
    assert set(reg) == set(symzoo.list_pretrained())
    for name, e in reg.items():
        task = symzoo.get_task(e["task"])
        group = task.group.name
        # the registry's record agrees with the task as registered now
        assert e["symmetry"]["group_of_task"] == group, name
        factors = [k for k in e["equivariance"]["relative_error"] if k != "all"]
        assert set(factors) == set(task.group.factors), name
        shown = symmetry_group(e)
        claimed = set(e["symmetry"]["claimed"])
        if set(task.group.factors) <= claimed:
            assert shown == group, name
        elif not claimed:
            assert shown == f"none (task: {group})", name
        else:
            assert shown.endswith(f" of {group}"), name
        card = render_card(name, e)
        assert f"- Symmetry: {shown} (the task's group: {group};" in card, name


def test_finite_groups_named(reg):
    col = {r[0]: r[2] for r in summary_rows(reg)}
    assert col["emlp.quadruped-com"] == "K4"
    assert col["steerable-cnn.kolmogorov2d"] == "D4"
    assert col["delan-eq.walker-id"] == "C2"
    assert col["circnet.lorenz96-8"] == "C8"
    assert col["gnn.nbody-charged"] == "S_n of E(3) x S_n"
    assert col["hnn.spring"] == "none (task: Z2 (mirror))"


def test_zoo_list_prints_the_groups(capsys):
    assert main(["zoo", "list"]) == 0
    rows = {r.split()[0]: r for r in capsys.readouterr().out.strip().splitlines()[1:]}
    assert rows["emlp.quadruped-com"].split()[2] == "K4"
    assert rows["steerable-cnn.kolmogorov2d"].split()[2] == "D4"
    assert rows["egnn.nbody-charged"].split()[2:5] == ["E(3)", "x", "S_n"]


@pytest.mark.parametrize(
    "entry, want",
    [
        ({"symmetry": {"group_of_task": "D4", "claimed": ["rotation"]}}, "R of D4"),
        (
            {
                "symmetry": {"group_of_task": "K4", "claimed": ["sagittal"]},
                "equivariance": {"relative_error": {"sagittal": 0.0, "transversal": 0.3, "all": 0.3}},
            },
            "sagittal of K4",
        ),
        ({"symmetry": {"claimed": ["translation", "rotation"]}}, "R+T"),
        ({}, "none"),
    ],
)
def test_partial_and_unrecorded_groups(entry, want):
    assert symmetry_group(entry) == want
