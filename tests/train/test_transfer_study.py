"""benchmarks/transfer_study.py's bookkeeping (no training: ``finetune`` is replaced by a fake that
writes what a run writes): the command each run records is the one it ran, a target outside the
seven fine-tunes onto its own task with re-fitted reference energies, the 0.67x verdict follows
the numbers, and the docs table names what was measured."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "transfer_study.py"


@pytest.fixture()
def study():
    spec = importlib.util.spec_from_file_location("transfer_study", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def fake_finetune(monkeypatch):
    """Record every call; write eval.json and metrics.csv as a finished run would."""
    calls: list[dict] = []

    def fake(pretrained, task, *, train_size, preset, overrides, out, from_scratch, freeze, refit_reference):
        calls.append(
            dict(task=task, n=train_size, scratch=from_scratch, refit=refit_reference, overrides=overrides)
        )
        out = Path(out)
        out.mkdir(parents=True)
        # scratch is worse, and more data helps: force = 100 / sqrt(n) (x 2 from scratch); longer
        # training too: x sqrt(3 / epochs) (the last trainer.max_epochs override wins)
        epochs = [int(o.split("=")[1]) for o in overrides if o.startswith("trainer.max_epochs=")][-1]
        force = (2.0 if from_scratch else 1.0) * 100.0 / train_size**0.5 * (3 / epochs) ** 0.5
        metrics = {"force_mae_meV_per_A": force, "energy_mae_meV": force / 3}
        ev = {"metrics": metrics, "n_test": 7, "best_epoch": 1, "fit_seconds": 2.0 * train_size / 50}
        (out / "eval.json").write_text(json.dumps(ev))
        (out / "metrics.csv").write_text(
            "epoch,elapsed_s,val_force_mae_meV_per_A\n0,1.0,90\n1,2.0,80\n2,30.0,10\n"
        )

    import symzoo.train.finetune as ft

    monkeypatch.setattr(ft, "finetune", fake)
    return calls


def test_external_target_uses_its_task_and_refits_reference_energies(study, fake_finetune, tmp_path):
    ft = study.run_one("ft", tmp_path / "pre", "3bpa", 50, 0, 3, tmp_path)
    sc = study.run_one("scratch", tmp_path / "pre", "3bpa", 250, 0, 3, tmp_path)
    rmd = study.run_one("ft", tmp_path / "pre", "toluene", 50, 0, 3, tmp_path)
    assert [c["task"] for c in fake_finetune] == ["3bpa", "3bpa", "rmd17-toluene"]
    # another level of theory: the reference energies are re-fitted; the rMD17 recipe keeps them
    assert [c["refit"] for c in fake_finetune] == [True, True, False]
    assert "refit_reference=false" not in ft["command"] and " 3bpa " in ft["command"]
    assert "refit_reference=false" in rmd["command"] and "--from-scratch" in sc["command"]
    # the recorded command carries the overrides the run was given
    assert all(o in ft["command"] for o in fake_finetune[0]["overrides"])
    # a second call is served from the run folder's study_run.json (no new run)
    assert study.run_one("ft", tmp_path / "pre", "3bpa", 50, 0, 3, tmp_path) == ft
    assert len(fake_finetune) == 3


def test_target_verdict_and_docs_table_follow_the_numbers(study, fake_finetune, tmp_path):
    runs = [
        study.run_one(kind, tmp_path / "pre", "uracil", n, s, 3, tmp_path)
        for s in range(2)
        for kind, n in (("ft", 50), ("scratch", 50), ("scratch", 250))
    ]
    summary = study.summarize(runs)
    (key,) = summary["target"]
    t = summary["target"][key]
    # fake: ft-50 = 100/sqrt(50) = 14.14, scratch-250 = 200/sqrt(250) = 12.65 -> 1.118 > 0.67
    assert t["force_ratio"] == pytest.approx(1.118, abs=1e-3) and t["met"] is False
    assert summary["table"]["scratch-250"]["seeds"] == 2
    # same wall clock: the fine-tuned run took 2 s; scratch-250 had finished 2 epochs by then
    wc = [w for w in summary["same_wall_clock"] if w["scratch_train_size"] == 250]
    assert {w["scratch_epochs_within"] for w in wc} == {2}
    doc = {"epochs": 3, "molecules": {"uracil": {"pretrained": {"run_dir": "pre"}, "runs": runs, **summary}}}
    text = study.markdown(doc)
    assert "uracil held out" in text and "force ratio **1.12**" in text and "not met" in text
    # the summary row: the ratio of the means, and per seed (identical fake seeds: the same ratio)
    (row,) = study.summary_rows(doc)
    assert row["force_ratio"] == 1.12 and row["per_seed_force_ratio"] == [1.12, 1.12] and not row["met"]
    assert "| uracil held out | 14.1 ± 0.0 / 4.7 ± 0.0 |" in text and "**1.12** (1.12, 1.12)" in text


def test_same_training_budget_variant(study, fake_finetune, tmp_path):
    """``--ft-variant frames-250``: the 50-frame fine-tune runs 5x the epoch budget (the frames and
    steps of scratch at 250), is recorded as such, kept out of the curve-matched wall-clock rows, and
    gets its own summary table."""
    runs = [
        study.run_one(kind, tmp_path / "pre", "ethanol", n, s, 3, tmp_path, v)
        for s in range(2)
        for kind, n, v in (
            ("ft", 50, ""),
            ("ft", 50, "frames-250"),
            ("scratch", 50, ""),
            ("scratch", 250, ""),
        )
    ]
    budget = [c for c in fake_finetune if "trainer.max_epochs=15" in c["overrides"]]
    assert len(budget) == 2 and all(not c["scratch"] and c["n"] == 50 for c in budget)
    assert {r["epochs"] for r in runs if r["variant"] == "frames-250"} == {15}
    assert all(r["epoch_budget"] == 3 for r in runs)
    summary = study.summarize(runs)
    assert all(w["ft"] == "ft-r3" for w in summary["same_wall_clock"])
    doc = {"epochs": 3, "molecules": {"ethanol": {"pretrained": {"run_dir": "pre"}, "runs": runs, **summary}}}
    (row,) = study.summary_rows(doc)
    # fake: 100/sqrt(50)/sqrt(5) = 6.32 against 200/sqrt(250) = 12.65 -> 0.5, met; epochs 3: 1.12
    assert row["force_ratio"] == 1.12 and not row["met"]
    b = row["frames250"]
    assert (
        b["force_ratio"] == 0.5
        and b["per_seed_force_ratio"] == [0.5, 0.5]
        and b["met"]
        and b["epochs"] == [15]
    )
    text = study.markdown(doc)
    assert "The same training budget" in text and "**0.50** (0.50, 0.50)" in text
    assert "fine-tuned, recipe r3, frames-250" in text
    with pytest.raises(SystemExit):
        study.main(
            ["--molecules", "ethanol", "--ft-variant", "frames-999", "--json", str(tmp_path / "x.json")]
        )
    assert not (tmp_path / "x.json").exists()


def test_external_target_needs_a_named_pretraining(study, tmp_path):
    with pytest.raises(SystemExit, match="--pretrained 3bpa=RUN_DIR"):
        study.pretrain_dir("3bpa", {}, tmp_path, 16, True)
    with pytest.raises(SystemExit):
        study.main(["--molecules", "benzene", "--json", str(tmp_path / "s.json")])
    assert not (tmp_path / "s.json").exists()


def test_a_zoo_entry_is_a_pretrained_model(study, fake_finetune, tmp_path, monkeypatch):
    """``--pretrained 3bpa=nequip.rmd17-multi``: the study fine-tunes the downloaded entry by name
    (``symzoo finetune`` verifies it), records the registry's sha256 and command as its pretraining,
    and a name that is neither a folder nor an entry is refused before any run."""
    monkeypatch.chdir(tmp_path)
    pre = study.pretrain_dir("3bpa", {"3bpa": "nequip.rmd17-multi"}, tmp_path, 16, True)
    info = study.pretrain_info(pre)
    from symzoo.hub import get_entry

    entry = get_entry("nequip.rmd17-multi")
    assert info["zoo_entry"] == "nequip.rmd17-multi"
    assert info["weights_sha256"] == entry["files"]["weights"]["sha256"]
    assert info["test_metrics_rmd17_multi"]["force_mae_meV_per_A"] == pytest.approx(
        entry["metrics"]["test"]["force_mae_meV_per_A"], abs=1e-3
    )
    res = study.run_one("ft", pre, "3bpa", 50, 0, 3, tmp_path / "w")
    assert res["command"].startswith("symzoo finetune nequip.rmd17-multi 3bpa ")
    with pytest.raises(SystemExit, match="no model.safetensors"):
        study.pretrain_dir("3bpa", {"3bpa": "nequip.no-such-entry"}, tmp_path, 16, True)


def test_a_continued_pretraining_records_the_command_that_made_it(study, tmp_path):
    """A pretraining continued from another model (``symzoo finetune BASE rmd17-multi ...``) must not
    be recorded as a plain ``symzoo train`` of its epochs: its base model and finetune command are."""
    from omegaconf import OmegaConf

    run = tmp_path / "pre-c16"
    run.mkdir()
    cfg = {
        "data": {"preset": "paper", "task_args": {"exclude": "ethanol"}},
        "trainer": {"max_epochs": 16, "threads": 1, "ema_decay": 0.99},
    }
    OmegaConf.save(OmegaConf.create(cfg), run / "config.yaml")
    (run / "eval.json").write_text(json.dumps({"epochs": 16, "metrics": {"force_mae_meV_per_A": 22.9}}))
    plain = study.pretrain_info(run)
    assert plain["command"].startswith("symzoo train rmd17-multi nequip data.task_args.exclude=ethanol")
    assert "continued_from" not in plain
    (run / "finetune.json").write_text(json.dumps({"base_model": "nequip.rmd17-multi"}))
    info = study.pretrain_info(run)
    assert info["continued_from"] == "nequip.rmd17-multi"
    assert info["command"].startswith("symzoo finetune nequip.rmd17-multi rmd17-multi ")
    assert "trainer.max_epochs=16 trainer.ema_decay=0.99" in info["command"]
    assert info["test_metrics_rmd17_multi"]["force_mae_meV_per_A"] == 22.9


def test_a_pretraining_with_another_data_set_records_it_in_its_command(study, tmp_path):
    """``rmd17-multi extra=3bpa`` is another pretraining than the plain one: its recorded command
    must carry the extra data set (it once read like the six-molecule command)."""
    from omegaconf import OmegaConf

    run = tmp_path / "pre-3bpa"
    run.mkdir()
    cfg = {
        "data": {"preset": "paper", "task_args": {"exclude": "ethanol", "extra": "3bpa"}},
        "trainer": {"max_epochs": 16, "threads": 1, "ema_decay": 0.99},
    }
    OmegaConf.save(OmegaConf.create(cfg), run / "config.yaml")
    (run / "eval.json").write_text(json.dumps({"epochs": 16, "metrics": {}}))
    info = study.pretrain_info(run)
    assert "data.task_args.exclude=ethanol data.task_args.extra=3bpa data.preset=paper" in info["command"]
    (run / "finetune.json").write_text(json.dumps({"base_model": "nequip.rmd17-multi"}))
    assert "exclude=ethanol data.task_args.extra=3bpa " in study.pretrain_info(run)["command"]
