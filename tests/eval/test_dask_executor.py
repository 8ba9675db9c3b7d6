"""`symzoo compare --executor dask://...` on a real local Dask cluster: a scheduler and two workers
started as separate processes on 127.0.0.1, one worker killed (SIGKILL) while it trains a cell, the
grid finished by the other worker, and the results identical (same cells, same numbers) to the same
grid run locally in one process with one torch thread."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from symzoo.eval.compare import compare, load_results

from symzoo.errors import SymzooError

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed (symzoo[cluster])")

TASK = "nbody-charged"
GRID = dict(
    models="egnn,mlp",
    train_sizes="100",
    seeds="0,1",
    preset="tiny",
    threads=1,
    orbit=False,
    rollout_trajectories=4,
    overrides=["trainer.max_epochs=6", "trainer.check_val_every_n_epoch=2"],
    render=False,
)
#: what a cell computed (wall times and the folder it ran in differ between runs)
SAME = ("key", "metrics", "metrics_group", "equivariance", "epochs", "best_epoch", "best_val", "rollout")


def _same(cell: dict) -> dict:
    out = {k: cell.get(k) for k in SAME}
    out["rollout"] = {k: v for k, v in (out["rollout"] or {}).items() if k != "seconds"}
    assert out["metrics"] and out["rollout"]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


@pytest.fixture()
def cluster(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = {
        "scheduler": _dask(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
            log=tmp_path / "scheduler.log",
        )
    }
    client = None
    try:
        for name in ("w1", "w2"):
            procs[name] = _dask(
                "worker", address, "--name", name, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                "--memory-limit", "0", "--death-timeout", "60", "--local-directory", str(tmp_path / name),
                log=tmp_path / f"{name}.log",
            )  # fmt: skip
        client = distributed.Client(address, timeout=60, set_as_default=False)
        client.wait_for_workers(2, timeout=90)
        yield address, client, procs
    finally:
        if client is not None:
            client.close()
        for p in procs.values():  # only the processes this fixture started, by pid
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)


def _staging(out: Path) -> list[Path]:
    return list((out / "cells").glob("*/.*.staging-*")) if (out / "cells").is_dir() else []


def test_grid_on_dask_survives_a_killed_worker(tmp_path, cluster):
    address, client, procs = cluster
    local = compare(TASK, out=tmp_path / "local", jobs=1, **GRID)

    out = tmp_path / "lb" / TASK  # where `symzoo leaderboard --out lb` keeps this task's grid
    box: dict = {}

    def submit() -> None:
        try:
            box["doc"] = compare(TASK, out=out, executor=address.replace("tcp://", "dask://"), **GRID)
        except BaseException as e:  # noqa: BLE001
            box["error"] = e

    t = threading.Thread(target=submit, daemon=True)
    t.start()
    # wait until a worker is inside a cell (its staging folder exists), then kill it with SIGKILL
    victim, deadline = None, time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and t.is_alive():
        busy = {a: ks for a, ks in client.processing().items() if ks}
        if busy and _staging(out):
            time.sleep(1.0)  # well inside the cell's training
            addr = sorted(busy)[0]
            victim = client.scheduler_info()["workers"][addr]["name"]
        else:
            time.sleep(0.2)
    assert "error" not in box, box.get("error")
    assert victim in ("w1", "w2"), "no cell was seen running on a worker"
    os.kill(procs[victim].pid, signal.SIGKILL)
    procs[victim].wait(timeout=10)
    t.join(timeout=240)
    assert not t.is_alive(), "the grid did not finish on the surviving worker"
    assert "error" not in box, box.get("error")

    doc = load_results(out)
    assert doc["failed"] == {} and doc["cells_done"] == doc["cells_total"] == 4
    assert doc["invocations"][-1]["executor"] == address.replace("tcp://", "dask://")
    keys = [c["key"] for c in doc["cells"]]
    assert len(keys) == len(set(keys)) == 4  # no lost and no doubled cell
    assert keys == [c["key"] for c in local["cells"]]
    for a, b in zip(doc["cells"], local["cells"]):
        assert _same(a) == _same(b), a["key"]
    for k in keys:  # every cell folder whole, no staging folder of the killed attempt left
        assert (out / "cells" / k / "cell.json").is_file()
        assert (out / "cells" / k / "model.safetensors").is_file()
    assert _staging(out) == []

    # resumable exactly as the local grid: nothing is retrained, on either executor
    again = compare(TASK, out=out, executor=address, **GRID)
    assert again["invocations"][-1]["cells_trained"] == 0
    assert again["invocations"][-1]["cells_reused"] == 4

    # the leaderboard on the same cluster reuses that grid (one Dask client for all its grids)
    from symzoo.eval.leaderboard import run_leaderboard

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: r\npreset: tiny\ntasks:\n  - {domain: nbody, task: nbody-charged, equivariant: egnn, "
        "plain: mlp, train_sizes: [100], seeds: [0, 1], orbit: false, rollout_trajectories: 4, "
        "overrides: [trainer.max_epochs=6, trainer.check_val_every_n_epoch=2]}\n"
    )
    lb = run_leaderboard(recipe, tmp_path / "lb", executor=address, threads=1)
    assert lb["invocations"][-1]["executor"] == "dask://" + address[len("tcp://") :]
    (row,) = lb["tasks"]
    assert row["cells_done"] == 4 and row["gain"]["plain"]["100"]["n"] == 2
    assert load_results(out)["invocations"][-1]["cells_trained"] == 0


def test_bad_executor_is_a_one_line_error_and_writes_nothing(tmp_path):
    from symzoo.eval.executors import connect_executor

    for bad in ("ray://x", "dask://nohost", "dask://host:port"):
        with pytest.raises(SymzooError, match="--executor"):
            compare(TASK, out=tmp_path / "x", executor=bad, jobs=1, **GRID)
        assert not (tmp_path / "x").exists()
    with pytest.raises(SymzooError, match="no Dask scheduler"):
        connect_executor(f"dask://127.0.0.1:{_free_port()}", timeout=2)
