"""Where the cells of a comparison grid run: the local process pool, or a Dask cluster.

``symzoo compare --executor local|dask://HOST:PORT`` (and ``symzoo leaderboard``) pick one with
:func:`connect_executor`; :func:`symzoo.eval.compare.compare` hands it the specs of the cells it
still has to train and gets every result (or error) back through one callback.  The parent process
stays the only writer of ``results.json``; an executor only runs
:func:`symzoo.eval.cells.run_cell`, which writes nothing but its own cell folder.

* ``local`` (the default): a ``ProcessPoolExecutor`` of ``jobs`` spawned processes on this machine
  (``jobs == 1``: in this process), each with ``threads`` torch threads.  Workers die with the parent.
* ``dask://HOST:PORT`` (also ``tcp://HOST:PORT``): a running Dask distributed scheduler.  Each cell is
  one task (:func:`run_cell_staged`) that trains into a private staging folder next to the cell's
  folder and renames it into place when it has finished, so a worker killed mid-cell leaves only a
  hidden ``.<cell>.staging-*`` folder behind (removed at the end of the grid) and never a
  half-written cell.  When a worker dies, the scheduler reschedules its cell on another worker
  (``distributed.scheduler.allowed-failures``, default 3, after which the cell is recorded as
  failed and re-running the same command retries it).  A cell finished by any worker is published
  under its key and never retrained: the task first looks for a finished ``cell.json``.  Workers
  must see the same filesystem as the submitting process (the output folder and ``SYMZOO_HOME``
  on a shared disk, as on every SLURM/PBS cluster) and run the same symzoo environment.

Plugins (:mod:`symzoo.plugins`): every cell's job carries the plugin modules of the submitting
process (entry points', ``--import``'s, those of ``module:builder`` names) and the folders they
were imported from; a worker, local or Dask, imports them before it builds the cell's model
(:func:`symzoo.plugins.activate`).  A worker that cannot import one records the cell as failed
with one line naming the plugin.

Why Dask rather than Ray: a grid cell is a plain Python function over files on a shared disk, which
is exactly Dask's ``Client.submit`` model, and Dask is the engine HPC sites already run:
``dask-jobqueue`` (``SLURMCluster``, ``PBSCluster``, ``SGECluster``, ...) starts workers as ordinary
batch jobs, with no head-node daemon, no object store, no extra ports beyond the scheduler's and no
root.  It is pure Python, installs with pip next to a pinned torch without touching it, and its
scheduler reschedules the tasks of a dead worker, which is the failure model the grid needs
(resumable cells, one writer of ``results.json``).  Ray would bring its own runtime, a shared-memory
object store and a cluster launcher that we do not need for coarse, minutes-long cells.

Install with ``pip install 'symzoo[cluster]'`` (``dask``, ``distributed``; add ``dask-jobqueue``
for a batch scheduler).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from symzoo._logging import LAUNCH_ENV, quiet_worker
from symzoo.errors import SymzooError

__all__ = ["CellExecutor", "LocalExecutor", "DaskExecutor", "connect_executor", "run_cell_staged"]

log = logging.getLogger(__name__)

#: ``done(index, result, error)``: one call per spec, in the order cells finish
Done = Callable[[int, "dict | None", "BaseException | None"], None]


class CellExecutor:
    """Runs cell specs (the ``job`` dicts of :func:`symzoo.eval.cells.run_cell`)."""

    name = "executor"
    #: resolved by :meth:`plan`: cells in flight at once, torch threads per cell
    jobs = 1
    threads = 1

    def plan(self, jobs: int | None, threads: int | None, todo: int, cores: int) -> None:
        raise NotImplementedError

    def run(self, specs: Sequence[dict], done: Done) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalExecutor(CellExecutor):
    """``jobs`` spawned processes on this machine (the default); ``jobs == 1`` trains in-process."""

    name = "local"

    def plan(self, jobs: int | None, threads: int | None, todo: int, cores: int) -> None:
        self.jobs = max(1, min(int(jobs or cores), max(todo, 1)))
        self.threads = int(threads) if threads else max(1, cores // self.jobs)

    def run(self, specs: Sequence[dict], done: Done) -> None:
        from .cells import _worker_init, run_cell

        if self.jobs == 1:
            for i, spec in enumerate(specs):
                try:
                    res = run_cell(spec)
                except SymzooError:
                    raise
                except Exception as e:  # noqa: BLE001 (recorded, the grid goes on)
                    done(i, None, e)
                else:
                    done(i, res, None)
            return
        if not specs:
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=mp.get_context("spawn"),
            initializer=_worker_init,
            initargs=(self.threads, os.getpid()),
        )
        try:
            futures = {pool.submit(run_cell, spec): i for i, spec in enumerate(specs)}
            for fut in as_completed(futures):
                try:
                    res = fut.result()
                except Exception as e:  # noqa: BLE001
                    done(futures[fut], None, e)
                else:
                    done(futures[fut], res, None)
        except BaseException:
            # interrupted: stop the cells in flight now (their folders lack cell.json and are
            # cleaned and retrained next time) instead of waiting for them at exit
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.terminate()
            raise
        pool.shutdown(wait=True)


class DaskExecutor(CellExecutor):
    """Cells as tasks on a Dask distributed scheduler (``address``: ``tcp://HOST:PORT``)."""

    def __init__(self, address: str, timeout: float = 20.0):
        try:
            from distributed import Client
        except ImportError:
            raise SymzooError(
                "--executor dask://...: Dask distributed is not installed "
                "(pip install 'symzoo[cluster]', or pip install distributed)"
            ) from None
        self.address = address
        self.name = address.replace("tcp://", "dask://", 1)
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except OSError as e:
            raise SymzooError(f"--executor {self.name}: no Dask scheduler answers there ({e})") from None

    def _slots(self) -> int:
        workers = self.client.scheduler_info().get("workers", {})
        return sum(int(w.get("nthreads", 1)) for w in workers.values())

    def plan(self, jobs: int | None, threads: int | None, todo: int, cores: int) -> None:
        # the cluster decides how many cells run at once (its workers' threads); --jobs only caps
        # what is reported.  One torch thread per cell unless told: workers are sized by the cluster.
        slots = self._slots()
        self.jobs = max(1, min(int(jobs) if jobs else max(slots, 1), max(todo, 1)))
        self.threads = int(threads) if threads else 1

    def run(self, specs: Sequence[dict], done: Done) -> None:
        from distributed import as_completed

        if not specs:
            return
        specs = [{**s, "dir": str(Path(s["dir"]).resolve())} for s in specs]
        futures = {}
        for i, spec in enumerate(specs):
            key = "symzoo-cell-" + spec["cell"]["model"] + "-" + Path(spec["dir"]).name
            fut = self.client.submit(
                run_cell_staged, spec, key=f"{key}-{uuid.uuid4().hex[:10]}", pure=False, retries=0
            )
            futures[fut] = i
        try:
            for fut in as_completed(list(futures), loop=self.client.loop):
                i = futures[fut]
                try:
                    res = fut.result()
                except Exception as e:  # noqa: BLE001 (KilledWorker after allowed-failures, or the cell's own error)
                    done(i, None, e)
                else:
                    done(i, res, None)
        except BaseException:
            self.client.cancel(list(futures))
            raise
        finally:
            for spec in specs:  # staging folders of attempts whose worker died
                d = Path(spec["dir"])
                for p in d.parent.glob(f".{d.name}.staging-*") if d.parent.is_dir() else ():
                    shutil.rmtree(p, ignore_errors=True)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001  pragma: no cover
            pass


def connect_executor(spec: str | CellExecutor | None, *, timeout: float = 20.0) -> CellExecutor:
    """``None``/``"local"`` -> :class:`LocalExecutor`; ``"dask://HOST:PORT"`` or ``"tcp://HOST:PORT"``
    -> :class:`DaskExecutor` (connected now: a bad address is a one-line error before anything is
    written).  An executor object is returned as is."""
    if isinstance(spec, CellExecutor):
        return spec
    if spec is None or str(spec).strip() in ("", "local"):
        return LocalExecutor()
    text = str(spec).strip()
    for prefix in ("dask://", "tcp://"):
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            host, _, port = rest.rpartition(":")
            if not host or not port.isdigit():
                raise SymzooError(f"--executor {text!r}: give dask://HOST:PORT (e.g. dask://127.0.0.1:8786)")
            return DaskExecutor(f"tcp://{host}:{port}", timeout=timeout)
    raise SymzooError(f"--executor {text!r}: use 'local' or 'dask://HOST:PORT'")


def _quiet_worker(threads: int | None) -> None:
    quiet_worker(threads, LAUNCH_ENV)


def run_cell_staged(job: dict) -> dict:
    """One cell on a (possibly remote) worker: reuse it when it is finished already, else train it
    into ``.<name>.staging-<id>`` beside its folder and rename that into place (the folder of a
    finished cell appears whole or not at all).  Returns the cell's result, as ``run_cell``."""
    from symzoo.plugins import activate

    from .cells import finished_cell, run_cell

    _quiet_worker(job.get("threads"))
    activate(job.get("plugins"))
    final = Path(job["dir"])
    prev = finished_cell(final, job["settings"])
    if prev is not None:  # finished by an earlier attempt (e.g. a worker presumed dead)
        return prev
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.staging-{uuid.uuid4().hex[:12]}"
    try:
        res = run_cell({**job, "dir": str(staging)})
        prev = finished_cell(final, job["settings"])
        if prev is not None:  # another attempt published first: keep its cell, drop ours
            return prev
        if final.exists():  # an interrupted attempt's folder (no cell.json)
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return res
