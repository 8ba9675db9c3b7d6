"""MACE's time-to-accuracy curve for ``forcefield_time_to_accuracy.py``: run by the Python that
``SYMZOO_MACE_PYTHON`` names (a separate virtualenv with mace-torch; MACE never becomes a symzoo
dependency and nothing of MACE's code lives in this repository).

Usage: ``python _mace_tta_worker.py TEST_XYZ EVERY -- RUN_TRAIN_ARGS...``

Runs MACE's own training script (``mace.cli.run_train``, in this process) with the arguments after
``--``.  Two functions of ``mace.tools.train`` are wrapped, nothing else is changed:

* ``train_one_epoch`` counts epochs;
* ``evaluate``: right after MACE's own validation evaluation (inside its EMA context, i.e. on the
  weights MACE would save) and every ``EVERY`` epochs, the model is also evaluated on
  ``TEST_XYZ`` (a test file training never sees).  That evaluation is timed and **taken off the
  training clock**.

One JSON line per test evaluation on stdout, prefixed ``TTA `` (epoch, train_seconds measured from
the start of ``tools.train`` -- data loading and E0 fitting excluded, validation included --,
eval_seconds, energy_mae_meV (total energy), force_mae_meV_per_A).
"""

from __future__ import annotations

import importlib
import json
import sys
import time


def main() -> int:
    test_xyz, every = sys.argv[1], int(sys.argv[2])
    args = sys.argv[sys.argv.index("--") + 1 :]
    import ase.io
    from mace import data, tools
    from mace.tools import torch_geometric

    tt = importlib.import_module("mace.tools.train")
    state = {"t0": None, "eval_s": 0.0, "epochs": 0, "last_eval_epoch": -1, "test_loader": None}
    orig_train, orig_epoch, orig_eval = tools.train, tt.train_one_epoch, tt.evaluate

    def test_loader(model):
        if state["test_loader"] is None:
            keys = data.KeySpecification(
                info_keys={"energy": "REF_energy"}, arrays_keys={"forces": "REF_forces"}
            )
            z_table = tools.AtomicNumberTable([int(z) for z in model.atomic_numbers])
            r_max = float(model.r_max)
            configs = [data.config_from_atoms(a, key_specification=keys) for a in ase.io.read(test_xyz, ":")]
            ds = [
                data.AtomicData.from_config(c, z_table=z_table, cutoff=r_max, heads=["Default"])
                for c in configs
            ]
            state["test_loader"] = torch_geometric.dataloader.DataLoader(ds, batch_size=50, shuffle=False)
        return state["test_loader"]

    def evaluate(model, loss_fn, data_loader, output_args, device):
        res = orig_eval(
            model=model, loss_fn=loss_fn, data_loader=data_loader, output_args=output_args, device=device
        )
        ep = state["epochs"]
        if (
            data_loader is not state["test_loader"]
            and state["t0"] is not None
            and ep != state["last_eval_epoch"]
        ):
            if ep % every == 0:
                state["last_eval_epoch"] = ep
                t = time.perf_counter()
                loader = test_loader(model)
                _, m = orig_eval(
                    model=model, loss_fn=loss_fn, data_loader=loader, output_args=output_args, device=device
                )
                done = time.perf_counter()
                row = {
                    "epoch": ep,
                    "train_seconds": round(t - state["t0"] - state["eval_s"], 3),
                    "eval_seconds": round(done - t, 3),
                    "energy_mae_meV": float(m["mae_e"]) * 1e3,
                    "force_mae_meV_per_A": float(m["mae_f"]) * 1e3,
                }
                state["eval_s"] += done - t
                print("TTA " + json.dumps(row), flush=True)
        return res

    def train_one_epoch(*a, **k):
        out = orig_epoch(*a, **k)
        state["epochs"] += 1
        return out

    def train(*a, **k):
        state["t0"] = time.perf_counter()
        return orig_train(*a, **k)

    tt.evaluate, tt.train_one_epoch, tools.train = evaluate, train_one_epoch, train
    from mace.cli import run_train

    sys.argv = ["mace_run_train", *args]
    run_train.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
