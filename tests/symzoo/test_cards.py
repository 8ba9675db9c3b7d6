"""MODEL_CARDS.md is generated from the registry and must stay in sync with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

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


def test_per_entry_cards_are_up_to_date_and_cover_the_registry():
    from symzoo.cards import hub_card_files

    files = hub_card_files(hub.registry())
    assert len(files) == len(symzoo.list_pretrained())
    for rel, text in files.items():
        assert (ROOT / rel).read_text() == text, f"{rel} is out of date: run `symzoo zoo cards`"
    assert sorted(p.name for p in (ROOT / "model_cards").glob("*.md")) == sorted(Path(r).name for r in files)


def _front_matter(text: str) -> dict:
    import yaml

    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.mark.parametrize("name", symzoo.list_pretrained())
def test_hub_card_front_matter_is_what_model_hubs_read(name):
    from symzoo.cards import render_hub_card

    e = hub.get_entry(name)
    text = render_hub_card(name, e)
    try:
        from huggingface_hub import ModelCard
    except ImportError:  # the test extra installs it; fall back to the YAML itself
        meta = _front_matter(text)
    else:
        card = ModelCard(text, ignore_metadata_errors=False)
        meta = card.data.to_dict()
        assert card.text.lstrip().startswith(f"# {name}")
        # huggingface_hub parses the model-index into evaluation results
        results = card.data.eval_results
        assert results and {r.metric_type for r in results} >= set(e["metrics"]["test"])
    assert meta["library_name"] == "symzoo" and meta["license"] == "mit"
    assert "symzoo" in meta["tags"] and e["task"] in meta["tags"] and meta["datasets"]
    (index,) = meta["model-index"]
    assert index["name"] == name
    test = index["results"][0]
    assert test["dataset"]["split"] == "test"
    got = {m["type"]: m["value"] for m in test["metrics"]}
    assert got == pytest.approx({k: float(v) for k, v in e["metrics"]["test"].items()})


def test_zoo_export_writes_a_hub_ready_folder(tmp_path, capsys):
    import json

    from symzoo.modelio import load_model

    out = tmp_path / "export" / "nequip"
    assert main(["zoo", "export", "nequip.rmd17-ethanol", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    meta = _front_matter((out / "README.md").read_text())
    assert meta["library_name"] == "symzoo" and meta["datasets"] == ["rmd17"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["builder"] == "nequip" and cfg["pretrained"]["name"] == "nequip.rmd17-ethanol"
    from symzoo.paths import sha256_file

    assert sha256_file(out / "model.safetensors") == cfg["pretrained"]["weights_sha256"]
    model = load_model(out / "config.json", weights=out / "model.safetensors")
    ref = symzoo.load_pretrained("nequip.rmd17-ethanol")
    for (k, a), (_, b) in zip(sorted(model.state_dict().items()), sorted(ref.state_dict().items())):
        assert torch.equal(a, b), k
    # a folder that is not empty is refused with one line; nothing else is written
    capsys.readouterr()
    assert main(["zoo", "export", "nequip.rmd17-ethanol", str(out)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == ["nequip"]
