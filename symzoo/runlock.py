"""Owner locks for run and comparison folders.

A lock is a small JSON file (``{"pid", "host", "started", "proc_start", "cmdline"}``) created
atomically: the content is written to a private temporary file which is then hard-linked onto the
lock name (``os.link`` fails when the name exists), so a lock is never seen half-written and two
processes can never both own it.

A lock is **stale** when its owner is on this host and either its pid is gone or the process now
holding that pid started at another time than the one recorded (the pid was reused by an unrelated
process; Linux ``/proc/<pid>/stat`` start time).  A stale lock is replaced atomically: the breaker
first takes ``<lock>.break`` (``O_CREAT | O_EXCL``), re-reads the lock to make sure it is still the
same stale one, removes it and links its own.  A lock owned by a live process, or by another host
(whose processes cannot be checked), is refused with a one-line :class:`RunLockedError` naming the
owner.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from .errors import RunLockedError

__all__ = ["RunLock", "acquire", "read_owner", "is_stale", "pid_alive", "process_start_time", "is_lock_file"]

_BREAK_TIMEOUT_S = 30.0


def process_start_time(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), or ``None`` where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_record() -> dict:
    import sys

    pid = os.getpid()
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "proc_start": process_start_time(pid),
        "cmdline": " ".join(sys.argv)[:300],
    }


def read_owner(lock: str | os.PathLike) -> dict | None:
    """The owner record of ``lock`` (``{}`` when unreadable or an old pid-only lock, None if absent)."""
    try:
        text = Path(lock).read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        rec = json.loads(text)
    except json.JSONDecodeError:
        rec = {}
    if isinstance(rec, int) and not isinstance(rec, bool):
        rec = {"pid": rec}  # an old-style lock holding only a pid
    return rec if isinstance(rec, dict) else {}


def is_stale(owner: dict) -> bool:
    """Whether the process named by ``owner`` is certainly gone (see module docstring)."""
    host = owner.get("host")
    if host is not None and host != socket.gethostname():
        return False  # another machine: cannot tell
    try:
        pid = int(owner.get("pid") or 0)
    except (TypeError, ValueError):
        pid = 0
    if not pid_alive(pid):
        return True
    recorded, now = owner.get("proc_start"), process_start_time(pid)
    return recorded is not None and now is not None and str(recorded) != str(now)


def _describe(owner: dict) -> str:
    parts = [f"pid {owner.get('pid', '?')}"]
    if owner.get("host"):
        parts.append(f"on {owner['host']}")
    if owner.get("started"):
        parts.append(f"since {owner['started']}")
    return " ".join(parts)


class RunLock:
    """An acquired lock; ``release()`` (or leaving the ``with`` block) removes it if still ours."""

    def __init__(self, path: Path, record: dict):
        self.path, self.record = path, record

    def release(self) -> None:
        owner = read_owner(self.path)
        if owner and owner.get("pid") == self.record["pid"] and owner.get("host") == self.record["host"]:
            self.path.unlink(missing_ok=True)

    # ``lock.unlink(missing_ok=True)`` keeps working for callers that held a plain Path
    def unlink(self, missing_ok: bool = True) -> None:
        self.release()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _probe_name(lock_name: str, pid: int) -> str:
    return f".{lock_name}.{pid}.tmp"


def _guard_name(lock_name: str) -> str:
    return lock_name + ".break"


def is_lock_file(name: str, lock_name: str) -> bool:
    """Whether a file called ``name`` is the lock ``lock_name`` or one of the transient files
    :func:`acquire` writes beside it (a process's probe ``.<lock>.<pid>.tmp``, the break guard): a
    folder's emptiness check must skip them, or two processes started into one folder at once can
    both refuse (the lock holder sees the other's probe)."""
    if name in (lock_name, _guard_name(lock_name)):
        return True
    pid = name.removeprefix(f".{lock_name}.").removesuffix(".tmp")
    return name == _probe_name(lock_name, int(pid)) if pid.isdigit() else False


def _break_stale(lock: Path, owner: dict) -> None:
    """Remove ``lock`` if it still holds the stale ``owner``, under the ``.break`` guard."""
    guard = lock.with_name(_guard_name(lock.name))
    try:
        fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:  # a breaker killed while holding the guard: the guard itself goes stale
            if time.time() - guard.stat().st_mtime > _BREAK_TIMEOUT_S:
                guard.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        time.sleep(0.05)
        return
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        if read_owner(lock) == owner:
            lock.unlink(missing_ok=True)
    finally:
        guard.unlink(missing_ok=True)


def acquire(
    lock: str | os.PathLike, what: str, *, holder: str = "symzoo process", attempts: int = 50
) -> RunLock:
    """Take ``lock`` for this process (see module docstring); ``what`` names the folder and
    ``holder`` the kind of owner in errors."""
    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    record = _owner_record()
    tmp = lock.with_name(_probe_name(lock.name, record["pid"]))
    tmp.write_text(json.dumps(record))
    try:
        for _ in range(attempts):
            try:
                os.link(tmp, lock)
                return RunLock(lock, record)
            except FileExistsError:
                pass
            owner = read_owner(lock)
            if owner is None:
                continue  # released meanwhile
            if not owner:  # being written by an old-style writer, or unreadable: look again
                time.sleep(0.05)
                owner = read_owner(lock)
                if owner is None:
                    continue
                if not owner:
                    raise RunLockedError(
                        f"{what} is locked by {lock} (unreadable owner); remove it if no run is active"
                    )
            if not is_stale(owner):
                raise RunLockedError(
                    f"{what} is in use by another {holder} ({_describe(owner)}); "
                    "wait for it or choose another folder"
                )
            _break_stale(lock, owner)
        raise RunLockedError(f"could not lock {what} ({lock}): too much contention")
    finally:
        tmp.unlink(missing_ok=True)
