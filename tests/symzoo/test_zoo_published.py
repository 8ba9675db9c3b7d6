"""Force-field zoo cards state the published figure of the same architecture and the measured gap."""

from __future__ import annotations

import copy

import pytest

from symzoo import hub
from symzoo.cards import published_comparison, render_card

#: architectures with a published rMD17 figure in the protocols this project is measured against
PUBLISHED_ARCHITECTURES = {"nequip", "painn"}


@pytest.fixture(scope="module")
def reg() -> dict[str, dict]:
    return hub.registry()


def _single_molecule_force_fields(reg):
    return {
        n: e
        for n, e in reg.items()
        if str(e.get("task", "")).startswith("rmd17-") and e["task"] != "rmd17-multi"
    }


def test_every_single_molecule_entry_of_a_published_architecture_states_it(reg):
    entries = _single_molecule_force_fields(reg)
    assert entries, "no rMD17 single-molecule entry in the registry"
    for name, e in entries.items():
        if e["builder"] not in PUBLISHED_ARCHITECTURES:
            continue
        rows = published_comparison(e)
        assert {r["metric"] for r in rows} >= {"force_mae_meV_per_A", "energy_mae_meV"}, name
        for r in rows:
            assert r["ratio"] == pytest.approx(r["measured"] / r["published"])
            assert r["measured"] == e["metrics"]["test"][r["metric"]]
        card = render_card(name, e)
        assert "Published figures of the same architecture" in card
        force = next(r for r in rows if r["metric"] == "force_mae_meV_per_A")
        assert f"{force['ratio']:.2f}x" in card


def test_the_gap_is_computed_from_the_measured_metrics_not_stored(reg):
    e = copy.deepcopy(reg["nequip.rmd17-ethanol"])
    e["metrics"]["test"]["force_mae_meV_per_A"] = 5.6
    pub = e["published"]["metrics"]["force_mae_meV_per_A"]
    row = next(r for r in published_comparison(e) if r["metric"] == "force_mae_meV_per_A")
    assert row["ratio"] == pytest.approx(5.6 / pub)
    assert f"{5.6 / pub:.2f}x" in render_card("x", e)


def test_no_published_block_no_section(reg):
    e = copy.deepcopy(reg["nequip.rmd17-ethanol"])
    del e["published"]
    assert published_comparison(e) == []
    assert "Published figures" not in render_card("x", e)
