"""One contract vocabulary (issue 25, item 4): models declare ``Field``/``Rep`` objects as tasks do,
``list_models(task=...)`` filters by them, ``mlp`` follows the task's fields, one word per domain.

The listing is checked for every registered task (declarations only, cheap); what it lists is
built and run on one task of every field layout here (a forward pass and the task's loss on two
tiny samples), and on every task under ``-m slow``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

import symzoo
from symzoo.compat import check_compatible
from symzoo.contract import ANY, RepKind, TaskView, describe_task_fields, model_contract, rep_fits
from symzoo.errors import IncompatibleError, SymzooError
from symzoo.registry import _MODELS, _load_all, model_fit_problem
from symzoo.symmetry import POSITION, SCALAR, VECTOR, IrrepsRep, Rep
from symzoo.task import DOMAIN_ALIASES, Field, StackedDataset, canonical_domain, cast_batch

_load_all()
BUILTIN = sorted(n for n, e in _MODELS.items() if e.plugin is None)
CANONICAL = {"nbody", "hamiltonian", "atoms", "robotics", "forecasting", "flows"}


def _configured_tasks():
    """Every registered task that declares its fields (``flow``/``ode`` without a file have none)."""
    out = []
    for name in symzoo.list_tasks():
        task = symzoo.get_task(name)
        if hasattr(task, "group"):
            out.append(task)
    return out


TASKS = _configured_tasks()


def _layout(task) -> tuple:
    """What a model sees of a task: field names, levels, representation classes, group class."""

    def sig(fields):
        return tuple(sorted((k, f.level, type(f.rep).__name__, f.shape is None) for k, f in fields.items()))

    return sig(task.input_fields), sig(task.output_fields), type(task.group).__name__


# one cheap task (bundled or simulated in well under a second) of every field layout
REPRESENTATIVES = [
    "nbody-charged",  # positions, velocities, charges -> positions (E(3) x S_n)
    "gravity-2",  # particles' q, p, masses -> time derivatives (E(2) x S_n)
    "pendulum",  # generalized coordinates under a mirror -> time derivatives
    "lorenz",  # a window of states under C2 -> the next state
    "lorenz96-8",  # a window of ring states under cyclic shifts
    "kolmogorov2d",  # vorticity and forcing on a grid under D4
    "rmd17-ethanol",  # a molecule -> energy and forces
    "emt-cu",  # a periodic crystal (cell) -> energy and forces
    "quadruped-id",  # a robot's q, v, a -> torques (K4)
    "quadruped-com",  # a robot's q, v -> centroidal momentum
    "acrobot-fd",  # a robot's q, v, u -> next state
]


def _build_and_run(model_name: str, task) -> None:
    """Build ``model_name`` as the harness does (task defaults), check it, run forward + loss."""
    train, _, _ = task.splits("tiny", seed=0)
    model = symzoo.create_model(model_name, **task.model_defaults(model_name, train))
    check_compatible(model, task)
    n = min(2, len(train))
    sub = (
        train.subset(range(n))
        if isinstance(train, StackedDataset)
        else torch.utils.data.Subset(train, range(n))
    )
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    batch = cast_batch(next(iter(task.loader(sub, n))), dtype)
    with torch.set_grad_enabled(bool(task.needs_grad)):
        loss = task.loss(task.apply_model(model, batch), batch)
    assert torch.isfinite(loss), (model_name, task.name)


# ------------------------------------------------------------------------------ declarations
@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_models_declare_fields_not_strings(name):
    """Every built-in model declares Field objects (no deprecated irreps strings), and the
    e3nn-style strings model.json records are derived from them."""
    model = symzoo.create_model(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # a string declaration would warn
        contract = model_contract(model)
    assert not contract.legacy
    assert contract.outputs, f"{name} declares no output fields"
    for f in {**contract.inputs, **contract.outputs}.values():
        assert isinstance(f, Field) and isinstance(f.rep, Rep) and f.level in ("node", "graph")
    assert set(model.irreps_out) == set(contract.outputs)
    assert all(isinstance(v, str) for v in model.irreps_in.values())


class _LegacyModel(torch.nn.Module):
    """A plugin model written for an earlier symzoo: irreps strings, no SymmetryContract."""

    symmetry = frozenset({"rotation"})
    irreps_in = {"pos": "1o", "vel": "1o", "attr": "0e", "spin": "2e"}
    optional_inputs = frozenset({"spin"})
    irreps_out = {"pos": "1o"}

    def forward(self, batch):
        return {"pos": batch.pos}


def test_legacy_irreps_strings_are_normalised_to_reps():
    with pytest.warns(DeprecationWarning, match="input_fields"):
        contract = model_contract(_LegacyModel)
    assert contract.legacy and contract.required == {"pos", "vel", "attr"}
    assert contract.inputs["pos"].rep is VECTOR and contract.inputs["attr"].rep is SCALAR
    assert isinstance(contract.inputs["spin"].rep, IrrepsRep) and contract.inputs["spin"].rep.irreps.dim == 5
    nbody = symzoo.get_task("nbody-charged")
    check_compatible(_LegacyModel(), nbody)  # "1o" on a position: legacy fields match by name
    with pytest.raises(IncompatibleError, match="needs input field"):
        check_compatible(_LegacyModel(), symzoo.get_task("rmd17-ethanol"))


def test_plugin_model_with_strings_is_listed_by_its_fields():
    """A registered plugin builder whose class declares strings (as the example plugin's
    ``RadialNet``) is listed on the tasks whose fields it names."""
    from symzoo.registry import register_plugin_model

    name = "legacy-strings-test"
    register_plugin_model(name, _legacy_builder, source="tests")
    try:
        assert model_fit_problem(name, "nbody-charged") is None
        assert "needs input field" in (model_fit_problem(name, "pendulum") or "")
        assert name in symzoo.list_models(task="nbody-charged")
    finally:
        _MODELS.pop(name, None)


def _legacy_builder() -> _LegacyModel:
    return _LegacyModel()


def test_reps_match_by_action_and_kind():
    assert rep_fits(POSITION, POSITION) and not rep_fits(POSITION, VECTOR)
    assert rep_fits(ANY, VECTOR) and rep_fits(IrrepsRep("1x1o+2x0e"), IrrepsRep("1x1o + 2x0e"))
    from symzoo.groups import GridRep, dihedral

    d4 = dihedral(4)
    pseudo = RepKind("grid-pseudoscalar", types=(GridRep,), names=("grid-pseudoscalar",))
    assert rep_fits(pseudo, GridRep(d4, "pseudoscalar")) and not rep_fits(pseudo, GridRep(d4, "scalar"))
    assert rep_fits(GridRep(d4, "pseudoscalar"), GridRep(dihedral(4), "pseudoscalar"))  # equal copies
    with pytest.raises(TypeError, match="kind of representation"):
        pseudo.act(None, torch.zeros(1))


def test_a_flow_of_scalars_lists_no_pseudoscalar_model():
    """steerable-cnn reads pseudo-scalars (vorticity): a flow of plain scalars on D4 does not list it,
    and checking it says why in one line; the plain CNNs take any one-channel grid field."""
    from symzoo.groups import GridRep

    flow = symzoo.get_task("kolmogorov2d")
    scalar = GridRep(flow.group, "scalar")

    class ScalarFlow:
        name, domain, group = "scalar-flow", "flows", flow.group
        input_fields = {"w": Field(scalar, "graph"), "f": Field(scalar, "graph")}
        output_fields = {"w": Field(scalar, "graph")}

    listed = symzoo.list_models(task=ScalarFlow())
    assert {"cnn", "unet"} <= set(listed) and "steerable-cnn" not in listed
    assert "grid-pseudoscalar" in model_fit_problem("steerable-cnn", ScalarFlow())
    with pytest.raises(
        IncompatibleError, match="declared grid-pseudoscalar but task 'scalar-flow' declares grid-scalar"
    ):
        check_compatible(symzoo.create_model("steerable-cnn"), ScalarFlow())


# ----------------------------------------------------------------------- list_models(task=)
@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_every_task_lists_models_of_its_fields(task):
    listed = symzoo.list_models(task=task)
    assert listed, f"no model lists {task.name}"
    assert listed == symzoo.list_models(task=task.name)
    for name in BUILTIN:  # the listing is exactly the declarations that fit
        assert (name in listed) == (model_fit_problem(name, task) is None)
    if task.domain != "hamiltonian" and task.domain != "flows":
        assert "mlp" in listed, "every domain but Hamiltonian vector fields and grids has a plain MLP"


def test_representatives_cover_every_layout():
    layouts = {_layout(t) for t in TASKS}
    covered = {_layout(symzoo.get_task(n)) for n in REPRESENTATIVES}
    assert layouts <= covered, [t.name for t in TASKS if _layout(t) not in covered]


def test_listing_excludes_what_cannot_run():
    assert "egnn" not in symzoo.list_models(task="rmd17-ethanol")  # reads velocities
    assert "schnet" not in symzoo.list_models(task="nbody-charged")  # returns an energy
    assert "circnet" not in symzoo.list_models(task="lorenz")  # a ring model on a C2 state
    assert "emlp" not in symzoo.list_models(task="lorenz")  # a window, not one vector per sample
    assert "delan" not in symzoo.list_models(task="quadruped-com")  # no accelerations or torques
    assert "ehnn" not in symzoo.list_models(task="pendulum") and "ehnn" in symzoo.list_models(
        task="gravity-2"
    )


@pytest.mark.parametrize("task_name", REPRESENTATIVES)
def test_listed_models_build_and_run(task_name):
    task = symzoo.get_task(task_name)
    for name in symzoo.list_models(task=task):
        _build_and_run(name, task)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_listed_models_build_and_run_on_every_task(task):
    """Every task (slow: generates every tiny split): what it lists builds and runs, except the
    ``mlp`` on structures of different sizes, which the task refuses in one line."""
    try:
        task.splits("tiny", seed=0)
    except SymzooError as e:  # user data or a download not present here
        pytest.skip(str(e))
    for name in symzoo.list_models(task=task):
        if name == "mlp" and task.name == "rmd17-multi":
            with pytest.raises(SymzooError, match="one fixed atom count"):
                _build_and_run(name, task)
            continue
        _build_and_run(name, task)


# ------------------------------------------------------------------------- mlp from fields
@pytest.mark.parametrize(
    ("task_name", "cls"),
    [
        ("nbody-charged", "FlatMLP"),
        ("rmd17-ethanol", "EnergyMLP"),
        ("lorenz96-8", "FlowMLP"),
        ("quadruped-com", "RobotMLP"),
    ],
)
def test_mlp_follows_the_task_fields(task_name, cls, tmp_path):
    """No per-domain switch: the task passes its fields, the builder picks the layout that fits,
    and the saved model rebuilds from model.json alone."""
    from symzoo.modelio import load_model, save_model

    task = symzoo.get_task(task_name)
    train, _, _ = task.splits("tiny", seed=0)
    args = task.model_defaults("mlp", train)
    assert "target" not in args
    model = symzoo.create_model("mlp", **{**args, "hidden": 8, "layers": 1})
    assert type(model).__name__ == cls
    json.dumps(model.builder_kwargs)  # JSON, whatever was passed
    save_model(model, tmp_path / "m", {"task": task.name})
    again = load_model(tmp_path / "m")
    assert type(again).__name__ == cls
    _build_and_run("mlp", task)


def test_mlp_from_a_task_object_records_its_fields():
    task = symzoo.get_task("lorenz")
    model = symzoo.create_model("mlp", task=task, hidden=8, layers=1)
    assert model.window == task.window and model.dim == 3
    assert model.builder_kwargs["task"] == describe_task_fields(task)
    view = TaskView(model.builder_kwargs["task"])
    assert view.input_fields["x"].shape == (task.window, 3)


def test_mlp_refuses_fields_it_has_no_layout_for():
    with pytest.raises(ValueError, match="no plain MLP layout fits"):
        symzoo.create_model("mlp", task="pendulum")
    assert "mlp" not in symzoo.list_models(task="kolmogorov2d")


def test_mlp_target_still_loads_older_model_files():
    """``target=`` (deprecated) is what model.json files written before record: still built."""
    assert type(symzoo.create_model("mlp", target="energy", n_particles=3, hidden=8)).__name__ == "EnergyMLP"
    assert type(symzoo.create_model("mlp", target="flow", n_particles=4, dim=3)).__name__ == "FlowMLP"
    assert type(symzoo.create_model("mlp")).__name__ == "FlatMLP"
    with pytest.raises(ValueError, match="target"):
        symzoo.create_model("mlp", target="stress")


# ---------------------------------------------------------------------------------- domains
def test_one_word_per_domain():
    words = {t.domain for t in TASKS} | {e.domain for e in _MODELS.values() if e.plugin is None}
    assert words == CANONICAL, words
    assert not words & set(DOMAIN_ALIASES)
    for t in TASKS:
        assert t.domain_label, f"{t.name} has no domain_label"
    for alias, word in DOMAIN_ALIASES.items():
        assert canonical_domain(alias) == word in CANONICAL
    assert symzoo.list_models(domain="forcefield") == symzoo.list_models(domain="atoms")
    assert symzoo.list_models(domain="robots") == symzoo.list_models(domain="robotics")
    assert "circnet" in symzoo.list_models(domain="attractors-ring")


def test_leaderboard_rows_take_domain_and_label_from_the_task(tmp_path):
    from symzoo.eval.leaderboard import load_recipe

    p = tmp_path / "r.yaml"
    p.write_text(
        "tasks:\n"
        "  - {task: rmd17-ethanol, equivariant: nequip, plain: mlp, train_sizes: [5]}\n"
        "  - {domain: forcefield, task: rmd17-uracil, equivariant: nequip, plain: mlp, train_sizes: [5]}\n"
        "  - {task: kolmogorov2d, equivariant: steerable-cnn, plain: cnn, train_sizes: [5]}\n"
    )
    entries = load_recipe(p)["entries"]
    assert [(e.domain, e.domain_label) for e in entries] == [
        ("atoms", "Force fields"),
        ("atoms", "Force fields"),
        ("flows", "2-D flows"),
    ]


def test_cli_lists_the_models_of_a_task(capsys):
    from symzoo.cli import main

    assert main(["list", "--task", "lorenz96-8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("models for task lorenz96-8:") and "circnet" in out and "egnn" not in out
    assert main(["list", "models", "--task", "no-such-task"]) == 2
    captured = capsys.readouterr()
    assert "models for" not in captured.out and "unknown task" in captured.err


def test_an_older_leaderboard_json_gets_its_labels_from_the_tasks():
    """Entries saved before labels came from the tasks (old domain words, no label) re-render with
    the task's label (``symzoo leaderboard --report``)."""
    from symzoo.eval.leaderboard import _task_label

    assert _task_label({"task": "rmd17-ethanol", "domain": "forcefield"}) == "Force fields"
    assert _task_label({"task": "no-such-task", "domain": "robots"}) == "robotics"


def _mlp_recipes():
    import yaml

    root = Path(symzoo.__file__).resolve().parent.parent / "configs"
    out = []
    for p in sorted(root.glob("*/mlp.yaml")):
        tasks = symzoo.list_tasks()
        members = [m for m in (yaml.safe_load(p.read_text()) or {}).get("members") or [] if m in tasks]
        out.append(p.parent.name if p.parent.name in tasks else members[0])  # a family: a member
    return out


@pytest.mark.parametrize("task_name", _mlp_recipes())
def test_every_mlp_recipe_builds_on_its_task(task_name):
    """Every shipped ``configs/*/mlp.yaml`` still builds its model (recipe arguments over the task's
    defaults, as ``symzoo train TASK mlp`` does) and runs on its task."""
    from omegaconf import OmegaConf
    from symzoo.train.config import load_config

    try:
        task = symzoo.get_task(task_name)
        train, _, _ = task.splits("tiny", seed=0)
    except (SymzooError, ImportError) as e:  # an extra (pinocchio) or data not installed here
        pytest.skip(str(e))
    cfg = load_config(task_name, "mlp", preset="tiny")
    args = {**task.model_defaults("mlp", train), **OmegaConf.to_container(cfg.model.args)}
    model = symzoo.create_model("mlp", **args)
    check_compatible(model, task)
    _build_and_run("mlp", task)


def test_node_follows_the_task_fields_too():
    """``node``: time derivatives on a Hamiltonian task, a flow map (RK4) on a window of states, from
    the fields the task passes; ``target=`` still builds what older model files record."""
    lorenz96 = symzoo.get_task("lorenz96-8")
    args = lorenz96.model_defaults("node", None)
    assert "target" not in args
    flow = symzoo.create_model("node", **args, hidden=8)
    assert type(flow).__name__ == "FlowNODE" and flow.dim == 8
    json.dumps(flow.builder_kwargs)
    assert type(symzoo.create_model("node", task="pendulum")).__name__ == "NeuralODE"
    assert type(symzoo.create_model("node", target="flow", state_dim=3)).__name__ == "FlowNODE"
    _build_and_run("node", lorenz96)
