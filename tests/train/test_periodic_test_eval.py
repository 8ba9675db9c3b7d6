"""PeriodicTestEval: test-split metrics against the training clock (evaluation time excluded)."""

from __future__ import annotations

import json


def test_periodic_test_eval_records_test_metrics_against_training_time(tmp_path):
    from symzoo.eval.evaluate import evaluate_dataset
    from symzoo.train.callbacks import PeriodicTestEval
    from symzoo.train.config import load_config
    from symzoo.train.run import train

    from symzoo.modelio import load_model
    from symzoo.registry import get_task

    task = get_task("nbody-charged", preset="tiny")
    _, _, test = task.splits("tiny", seed=0)
    cfg = load_config(
        "nbody-charged",
        "linear",
        preset="tiny",
        overrides=[
            "trainer.max_epochs=3",
            "trainer.progress_bar=false",
            "trainer.early_stopping_patience=null",
        ],
    )
    cb = PeriodicTestEval(test, every_n_epochs=2, path=tmp_path / "curve.jsonl")
    run = train(cfg, str(tmp_path / "run"), quiet=True, callbacks=[cb])
    rows = [json.loads(line) for line in (tmp_path / "curve.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 2, 3] and rows == cb.records
    times = [r["train_seconds"] for r in rows]
    assert times[0] >= 0 and times == sorted(times)
    assert all(r["eval_seconds"] >= 0 and task.primary_metric in r for r in rows)
    # the last row is the final model on the test split
    final = evaluate_dataset(load_model(run), task, test)
    last = json.loads((run / "eval.json").read_text())
    assert last["best_epoch"] >= 0 and rows[-1][task.primary_metric] > 0
    assert abs(final[task.primary_metric] - last["metrics"][task.primary_metric]) < 1e-9
