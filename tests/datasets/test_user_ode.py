"""An ODE of one's own (issue 20, item 4): the ``ode`` task from a user's vector field or a dysts
name, the declared group checked on the vector field, and λ_max from symzoo's own estimator."""

import sys
import textwrap

import numpy as np
import pytest
from symzoo.datasets import attractors as A
from symzoo.datasets.lyapunov import lyapunov_spectrum, max_lyapunov

import symzoo
from symzoo.cli import main
from symzoo.errors import InputError

LORENZ = textwrap.dedent(
    """
    import numpy as np

    def lorenz(x, sigma=10.0, rho=28.0, beta=8 / 3):
        a, b, c = x[..., 0], x[..., 1], x[..., 2]
        return np.stack([sigma * (b - a), rho * a - a * c - b, a * b - beta * c], -1)

    def lorenz_one_state(x, sigma=10.0, rho=28.0, beta=8 / 3):  # written for x [3] only
        return [sigma * (x[1] - x[0]), rho * x[0] - x[0] * x[2] - x[1], x[0] * x[1] - beta * x[2]]
    """
)


def _lorenz(x, sigma=10.0, rho=28.0, beta=8 / 3):
    a, b, c = x[..., 0], x[..., 1], x[..., 2]
    return np.stack([sigma * (b - a), rho * a - a * c - b, a * b - beta * c], -1)


def test_lyapunov_estimator_on_lorenz():
    x0 = np.array([1.0, 1.0, 20.0]) + np.random.default_rng(0).standard_normal((4, 3))
    lam = max_lyapunov(_lorenz, x0, h=0.01, t_total=100.0, t_transient=5.0)
    assert lam == pytest.approx(0.9056, abs=0.03)  # Sprott's reference value
    # the whole spectrum sums to the (constant) divergence -(sigma + 1 + beta)
    spec = lyapunov_spectrum(_lorenz, x0[:2], h=0.01, t_total=10.0, t_transient=1.0, n_exponents=3)
    assert spec.sum() == pytest.approx(-(10 + 1 + 8 / 3), rel=1e-3)
    assert spec[0] > 0 > spec[2] and abs(spec[1]) < 0.2


def test_catalogue_lyapunov_exponents_are_measured_not_copied():
    assert A.SYSTEMS["thomas"].lyapunov == A.MEASURED_LYAPUNOV["thomas"] != A.CATALOGUE_LYAPUNOV["thomas"]
    s = A.SYSTEMS["thomas"]
    lam = max_lyapunov(
        s.f, A._on_attractor(s, 4, 3), h=s.delta / 5, t_total=40 * s.period, t_transient=0.0, seed=3
    )
    assert lam == pytest.approx(A.MEASURED_LYAPUNOV["thomas"], abs=0.05)
    assert abs(lam - A.CATALOGUE_LYAPUNOV["thomas"]) > 0.08  # the catalogue's 0.632 is not reproduced
    assert symzoo.get_task("thomas").lyapunov == A.MEASURED_LYAPUNOV["thomas"]


@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_lorenz.py").write_text(LORENZ)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    yield tmp_path
    for name in [m for m in sys.modules if m == "my_lorenz"]:
        del sys.modules[name]


FAST = ["data.task_args.dim=3", "data.task_args.dt=0.03", "data.task_args.h=0.01", "data.task_args.ic=[1,1,20]",
        "data.task_args.lyapunov_time=20"]  # fmt: skip


def test_user_ode_lyapunov_time_unit(user_module):
    """The task's own λ_max (tangent-vector estimate, cached) sets its time unit; training and
    evaluation through the CLI run in tests/datasets/test_byo_docs.py (docs/byo_ode.md)."""
    task = symzoo.get_task("ode", vector_field="my_lorenz:lorenz", generators={"mirror": [-1, -2, 3]},
                           dim=3, dt=0.03, h=0.01, ic=[1, 1, 20], lyapunov_time=20)  # fmt: skip
    assert task.lyapunov == pytest.approx(0.9056, abs=0.1)
    assert task.dt == pytest.approx(0.03 * task.lyapunov)
    assert list((user_module / "home" / "datasets" / "ode").glob("stats-*/stats.npz"))  # cached
    tr, va, te = task.splits("tiny")
    assert tr.fields["x"].shape[1:] == (4, 3) and len(te) > 0


def test_wrongly_declared_group_refused_before_anything_is_written(user_module, capsys):
    run = user_module / "never"
    code = main(["train", "ode", "mlp", "--preset", "tiny", "--out", str(run), "--quiet",
                 "data.task_args.vector_field=my_lorenz.py:lorenz", "data.task_args.generators.mirror=[-1,2,3]",
                 *FAST])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "'mirror' is not a symmetry of my_lorenz.py:lorenz" in err[0]
    assert not run.exists()


def test_user_ode_arguments(user_module):
    # a function written for one state works (looped); a file path works as well as a module
    one = symzoo.get_task("ode", vector_field=f"{user_module}/my_lorenz.py:lorenz_one_state",
                          generators={"mirror": [-1, -2, 3]}, dim=3, dt=0.03, h=0.01, ic=[1, 1, 20])  # fmt: skip
    assert one.group.name == "C2" and one.symmetry_errors["mirror"] < 1e-12
    with pytest.raises(InputError, match="declare the sampling step"):
        symzoo.get_task("ode", vector_field="my_lorenz:lorenz", dim=3)
    with pytest.raises(InputError, match="has no function 'nope'"):
        symzoo.get_task("ode", vector_field="my_lorenz:nope", dim=3, dt=0.03)
    with pytest.raises(InputError, match="not a signed permutation"):
        symzoo.get_task("ode", vector_field="my_lorenz:lorenz", dim=3, dt=0.03, generators={"m": [-1, -1, 3]})
    with pytest.raises(InputError, match="needs data.task_args.vector_field"):
        symzoo.get_task("ode").splits("tiny")  # named without its data (symzoo train ode MODEL)


def test_dysts_by_name_or_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dysts", None)
    monkeypatch.setitem(sys.modules, "dysts.flows", None)
    with pytest.raises(InputError, match=r"pip install 'symzoo\[forecasting\]'"):
        symzoo.get_task("ode", dysts="Lorenz")
    monkeypatch.undo()
    pytest.importorskip("dysts")
    task = symzoo.get_task("ode", dysts="Lorenz", generators={"mirror": [-1, -2, 3]})
    assert task.symmetry_errors["mirror"] == 0.0 and task.system.params["rho"] == 28
    with pytest.raises(InputError, match="'cycle' is not a symmetry of dysts:Lorenz"):
        symzoo.get_task("ode", dysts="Lorenz", generators={"cycle": [2, 3, 1]})
    with pytest.raises(symzoo.errors.UnknownNameError, match="did you mean 'Lorenz'"):
        symzoo.get_task("ode", dysts="Lorenzz")
