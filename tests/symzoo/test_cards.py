"""MODEL_CARDS.md is generated from the registry and must stay in sync with it."""

from __future__ import annotations

from pathlib import Path

import pytest

import symzoo
from symzoo import hub
from symzoo.cards import _fmt, render_card, render_cards
from symzoo.cli import main

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = [
    "Model details",
    "Intended use",
    "Out-of-scope use",
    "Training data",
    "Metrics",
    "Symmetry",
    "Conservation",
    "Domain of validity and units",
    "Limitations",
    "How to reproduce",
]


def test_model_cards_file_is_up_to_date():
    text = (ROOT / "MODEL_CARDS.md").read_text()
    assert text == render_cards(hub.registry()), "MODEL_CARDS.md is out of date: run `symzoo zoo cards`"


@pytest.mark.parametrize("name", symzoo.list_pretrained())
def test_every_card_has_the_sections_and_the_numbers(name):
    e = hub.get_entry(name)
    card = render_card(name, e)
    for s in SECTIONS:
        assert f"### {s}" in card, (name, s)
    assert e["files"]["weights"]["sha256"] in card and e["command"].strip() in card
    rows = [ln for ln in card.splitlines() if ln.startswith("| in-distribution test")]
    assert len(rows) == 1 and _fmt(e["metrics"]["test"][e["metrics"]["primary"]]) in rows[0]
    if e["metrics"].get("test_group_transformed"):
        assert "element per sample" in card


def test_fine_tuning_studies_are_in_the_cards():
    studies = hub.get_entry("egnn.nbody-charged")["finetune"]
    assert {"nbody-gravity", "nbody-charged frame_out=45"} <= set(studies)
    card = render_card("egnn.nbody-charged", hub.get_entry("egnn.nbody-charged"))
    for label, ft in studies.items():
        assert f"Fine-tuning on `{label}`" in card and ft["command_finetune"] in card
        for r in ft["results"]:
            assert len(r["pretrained"]["values"]) == len(r["scratch"]["values"]) == r["seeds"] >= 2
            assert r["gain"] == pytest.approx(r["scratch"]["mean"] / r["pretrained"]["mean"], rel=1e-2)


def test_zoo_cards_check_and_write(tmp_path, capsys):
    out = tmp_path / "CARDS.md"
    out.write_text("stale\n")
    assert main(["zoo", "cards", "--check", "--out", str(out)]) == 1
    assert main(["zoo", "cards", "--out", str(out)]) == 0
    assert out.read_text() == render_cards(hub.registry())
    assert main(["zoo", "cards", "--check", "--out", str(out)]) == 0


@pytest.mark.parametrize("name", ["hnn.spring", "node.spring", "ehnn.gravity-2"])
def test_hamiltonian_cards_show_the_rollout_drift_and_conservation(name):
    e = hub.get_entry(name)
    card = render_card(name, e)
    ro = e["metrics"]["rollout"]
    assert "Long-horizon rollout (1000 rk4 steps" in card and _fmt(ro["energy_drift"]) in card
    assert e["conservation"].strip() in card
    assert f"energy drift {_fmt(ro['energy_drift'])}" in render_cards(hub.registry())
