"""Declared task arguments: types and ranges, checked before a task exists.

Every task argument (``get_task(name, **kwargs)``, ``data.task_args.*`` in a recipe or on the
command line) is checked against a schema before the task's factory runs, as the config keys are:
an unknown name, a value of the wrong type, a NaN or a value out of range is a one-line
:class:`~symzoo.errors.InputError` naming the argument and what would be accepted (``symzoo``
exits 2).  A task declares its schema where it registers::

    NBODY_ARGS = ArgSchema(
        {
            "n_particles": Arg(int, min=2, max=100, help="particles per system"),
            "softening": Arg(float, min=0.0),
            "train_size": Arg(int, min=1, nullable=True),
        },
        checks=(lambda v: None if v["frame_out"] > v["frame_in"] else "frame_out must be > frame_in",),
    )

    @register_task("nbody-charged", args=NBODY_ARGS)
    def nbody_charged(**kw): ...

A task registered without a schema still gets the checks its factory's signature allows
(:func:`schema_from_signature`): unknown names are refused when the factory takes no ``**kw``,
and an argument whose default is a number, bool or string must be given as one (finite).

This module imports nothing heavy (no torch): the registry uses it while listing tasks.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError, suggest

__all__ = ["Arg", "ArgSchema", "check_task_args", "schema_from_signature", "check_arg_types"]

_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


@dataclass(frozen=True)
class Arg:
    """One task argument: its ``type`` (``int``, ``float``, ``bool``, ``str``), an inclusive range
    ``[min, max]`` (``min_exclusive=True``: ``> min``), ``choices``, whether ``None`` (``null``) is
    accepted, and a ``help`` sentence.  Floats must be finite; an integer is accepted for a float
    (``noise=1``), a float with a whole value for an integer (``n_particles=5.0``, as YAML may give)."""

    type: type
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    choices: tuple | None = None
    nullable: bool = False
    help: str = ""

    def rule(self) -> str:
        """What is accepted, in words (used in the refusal)."""
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = _TYPE_NAMES.get(self.type, self.type.__name__)
            if self.type in (int, float):
                if self.type is float:
                    text = "a finite number"
                lo = None if self.min is None else f"{'>' if self.min_exclusive else '>='} {self.min:g}"
                hi = None if self.max is None else f"<= {self.max:g}"
                if lo and hi:
                    text += f" {lo} and {hi}"
                elif lo or hi:
                    text += f" {lo or hi}"
        return text + (" (or null)" if self.nullable else "")

    def coerce(self, value: Any) -> tuple[bool, Any]:
        """``(ok, value)``: the value as this type when it is one, without silent truncation."""
        if value is None:
            return self.nullable, None
        t = self.type
        if t is bool:
            return isinstance(value, bool), value
        if isinstance(value, bool):
            return False, value
        if t is int:
            if isinstance(value, int):
                return True, value
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                return True, int(value)
            return False, value
        if t is float:
            if isinstance(value, (int, float)) and math.isfinite(float(value)):
                return True, float(value)
            return False, value
        if t is str:
            return isinstance(value, str), value
        return isinstance(value, t), value

    def check(self, value: Any) -> tuple[bool, Any]:
        ok, v = self.coerce(value)
        if not ok or v is None:
            return ok, v
        if self.choices is not None and v not in self.choices:
            return False, v
        if self.type in (int, float):
            if self.min is not None and (v <= self.min if self.min_exclusive else v < self.min):
                return False, v
            if self.max is not None and v > self.max:
                return False, v
        return True, v


@dataclass(frozen=True)
class ArgSchema:
    """The declared arguments of a task (name -> :class:`Arg`) and ``checks``: functions of the
    complete values (declared defaults filled in from the factory's signature where it has them)
    returning a sentence when a combination is wrong (``frame_out`` after ``frame_in``), else
    ``None``.  ``open=True`` lets names outside ``args`` through unchecked (a family whose
    members take different arguments)."""

    args: Mapping[str, Arg]
    checks: tuple[Callable[[dict[str, Any]], str | None], ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    open: bool = False


def schema_from_signature(factory: Callable[..., Any]) -> ArgSchema | None:
    """The checks a factory's signature allows (see the module docstring); ``None`` when it says
    nothing (only ``**kw``)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return None
    accepts_var = any(p.kind == p.VAR_KEYWORD for p in params.values())
    args: dict[str, Arg] = {}
    defaults: dict[str, Any] = {}
    for name, p in params.items():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.default is inspect.Parameter.empty:
            continue  # pattern groups (positional) and **kw
        d = p.default
        defaults[name] = d
        for t in (bool, int, float, str):
            if isinstance(d, t):
                args[name] = Arg(t, nullable=False)
                break
        else:
            args[name] = Arg(object, nullable=True)  # None or anything: the factory checks it
    if not args and accepts_var:
        return None
    return ArgSchema(args, defaults=defaults, open=accepts_var)


def check_task_args(task: str, schema: ArgSchema | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` checked against ``schema`` (see the module docstring); returns them with declared
    coercions applied (an integer given for a float argument becomes a float).  Raises a one-line
    :class:`InputError` on the first bad argument."""
    if schema is None:
        return dict(kwargs)
    out: dict[str, Any] = {}
    for name, value in kwargs.items():
        spec = schema.args.get(name)
        if spec is None:
            if schema.open:
                out[name] = value
                continue
            known = ", ".join(sorted(schema.args)) or "none"
            raise InputError(
                f"task {task!r} has no argument {name!r}{suggest(name, schema.args)}; its arguments: {known}"
            )
        if spec.type is object:
            out[name] = value
            continue
        ok, v = spec.check(value)
        if not ok:
            raise InputError(
                f"task {task!r}: data.task_args.{name} must be {spec.rule()}, got {value!r}"
                + (f" ({spec.help})" if spec.help else "")
            )
        out[name] = v
    full = {**dict(schema.defaults), **out}
    for check in schema.checks:
        problem = check(full)
        if problem:
            raise InputError(f"task {task!r}: {problem}")
    return out


def check_arg_types(owner: str, fn: Callable[..., Any], kwargs: Mapping[str, Any], prefix: str = "") -> None:
    """Arguments of ``fn`` (a model builder) whose default is a number, bool or string must be given
    as one (an int for an int: ``hidden=1.5``, ``True`` or ``'abc'`` are refused; floats finite),
    checked against the signature so that the refusal never depends on where the builder would
    fail.  ``prefix`` names the arguments (``model.args.``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    for key, value in kwargs.items():
        p = params.get(key)
        if p is None or p.default is inspect.Parameter.empty or p.default is None:
            continue
        d = p.default
        if isinstance(d, bool):
            ok = isinstance(value, bool)
        elif isinstance(d, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(d, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        elif isinstance(d, str):
            ok = isinstance(value, str)
        else:
            continue
        if not ok:
            raise InputError(
                f"{owner}: {prefix}{key} must be of type {type(d).__name__} (default {d!r}), got {value!r}"
            )
