"""Declared task arguments (issue 24, items 3 and 5): every task argument is checked against the
task's schema (types, ranges, combinations) before the task's factory runs; the refusal is one
line naming the argument and what is accepted.  Tasks without a declared schema get what their
factory's signature says (unknown names, types)."""

import math

import pytest

import symzoo
from symzoo.errors import InputError, SymzooError
from symzoo.registry import register_task
from symzoo.taskargs import Arg, ArgSchema, check_task_args, schema_from_signature

# (task, arguments, part of the message): every one of these was accepted (exit 0) or failed with
# an internal exception text before the schema existed
REFUSED = [
    ("nbody-charged", {"frame_out": -1}, "frame_out must be an integer >= 1 and <= 49"),
    ("nbody-charged", {"frame_in": 1000}, "frame_in must be an integer >= 0 and <= 48"),
    ("nbody-charged", {"frame_in": 45}, "frame_out (40) must come after frame_in (45)"),
    ("nbody-charged", {"n_particles": 1}, "n_particles must be an integer >= 2"),
    ("nbody-charged", {"n_particles": 0}, "n_particles must be an integer >= 2"),
    ("nbody-charged", {"n_particles": 2.5}, "n_particles must be an integer"),
    ("nbody-charged", {"n_particles": "5"}, "n_particles must be an integer"),
    ("nbody-charged", {"n_particles": True}, "n_particles must be an integer"),
    ("nbody-charged", {"softening": math.nan}, "softening must be a finite number >= 0"),
    ("nbody-charged", {"bogus": 1}, "has no argument 'bogus'"),
    ("nbody-gravity", {"softening": -0.1}, "softening must be a finite number >= 0"),
    ("nbody-charged", {"train_size": 0}, "train_size must be an integer >= 1 (or null)"),
    ("spring", {"noise": -1}, "noise must be a finite number >= 0"),
    ("spring", {"noise": math.nan}, "noise must be a finite number >= 0"),
    ("pendulum", {"noise": math.inf}, "noise must be a finite number >= 0"),
    ("spring", {"horizon": -1}, "horizon must be an integer >= 0 and <= 20"),
    ("chain-pendulum-3", {"bogus": 1}, "has no argument 'bogus'"),
    ("gravity-2", {"softening": math.nan}, "softening must be a finite number >= 0 (or null)"),
    ("kolmogorov2d", {"unroll": 0}, "unroll must be an integer >= 1"),
    ("kolmogorov2d", {"unroll": -1}, "unroll must be an integer >= 1"),
    ("kolmogorov2d", {"forcing_axis": "z"}, "forcing_axis must be one of 'x', 'y'"),
    ("acrobot-fd", {"fd_steps": 0}, "fd_steps must be an integer >= 1"),
]


@pytest.mark.parametrize("task,kwargs,msg", REFUSED, ids=[f"{t}-{next(iter(k))}" for t, k, _ in REFUSED])
def test_bad_task_arguments_are_refused_before_the_factory(task, kwargs, msg):
    with pytest.raises(InputError) as e:
        symzoo.get_task(task, **kwargs)
    text = str(e.value)
    assert msg in text and f"task {task!r}" in text and "\n" not in text, text


def test_good_arguments_pass_and_are_coerced_without_truncation():
    t = symzoo.get_task("nbody-charged", n_particles=3, frame_in=10, frame_out=20.0, softening=1)
    assert (t.n_particles, t.frame_in, t.frame_out) == (3, 10, 20)
    assert isinstance(t.frame_out, int) and isinstance(t.softening, float)
    assert symzoo.get_task("nbody-gravity", softening=0.2).softening == 0.2  # was a TypeError
    assert symzoo.get_task("nbody-gravity").softening == 0.1
    assert symzoo.get_task("spring", noise=0.1).noise == 0.1
    assert symzoo.get_task("gravity-3-3d", softening=None).name == "gravity-3-3d"


def test_the_cli_refuses_them_in_one_line_and_writes_nothing(tmp_path, capsys):
    from symzoo.cli import main

    out = tmp_path / "out"
    for arg in ("frame_out=-1", "n_particles=1", "bogus=1", "softening=nan"):
        capsys.readouterr()
        rc = main(
            [
                "train",
                "nbody-charged",
                "egnn",
                "--preset",
                "tiny",
                "--quiet",
                "--out",
                str(out),
                f"data.task_args.{arg}",
            ]
        )
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1, err
        assert "data.task_args" in err or "no argument 'bogus'" in err, err
        assert "Error:" not in err.replace("symzoo: error:", "") and not out.exists(), err


def test_schema_mechanism_on_a_new_task():
    """A plugin's task declares its arguments once; get_task checks them (and the combination)."""
    calls = []
    schema = ArgSchema(
        {
            "width": Arg(int, min=1, max=8),
            "rate": Arg(float, min=0.0, min_exclusive=True),
            "mode": Arg(str, choices=("a", "b")),
        },
        checks=(lambda v: "width must be even in mode b" if v["mode"] == "b" and v["width"] % 2 else None,),
        defaults={"width": 2, "rate": 1.0, "mode": "a"},
    )

    @register_task("test-taskargs-toy", args=schema)
    def toy(**kw):
        calls.append(kw)
        return symzoo.get_task("spring")

    symzoo.get_task("test-taskargs-toy", width=4, rate=2)
    assert calls == [{"width": 4, "rate": 2.0}]
    for kw, msg in [
        ({"width": 9}, "width must be an integer >= 1 and <= 8"),
        ({"rate": 0}, "rate must be a finite number > 0"),
        ({"mode": "c"}, "mode must be one of 'a', 'b'"),
        ({"mode": "b", "width": 3}, "width must be even in mode b"),
        ({"widht": 3}, "has no argument 'widht' (did you mean 'width'?)"),
    ]:
        with pytest.raises(InputError, match=msg.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
            symzoo.get_task("test-taskargs-toy", **kw)
    assert len(calls) == 1  # the factory never ran for a refused argument


def test_signature_schema_for_undeclared_tasks():
    def factory(n: str, noise: float = 0.0, steps: int = 3, path: str | None = None):
        return None

    schema = schema_from_signature(factory)
    assert schema is not None and set(schema.args) == {"noise", "steps", "path"} and not schema.open
    assert check_task_args("t", schema, {"noise": 1, "path": "x"}) == {"noise": 1.0, "path": "x"}
    with pytest.raises(InputError, match="steps must be an integer"):
        check_task_args("t", schema, {"steps": "abc"})
    with pytest.raises(InputError, match="no argument 'bogus'"):
        check_task_args("t", schema, {"bogus": 1})
    assert schema_from_signature(lambda **kw: None) is None
    with pytest.raises(SymzooError):
        symzoo.get_task("spring", bogus=1)
