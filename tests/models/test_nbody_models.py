import pytest
import torch

import symzoo
from symzoo.errors import InputError, SymzooError
from symzoo.testing import equivariance_errors


@pytest.fixture(scope="module")
def task():
    return symzoo.get_task("nbody-charged", preset="tiny")


def test_egnn_equivariance_float64_below_1e9(task):
    errs = equivariance_errors(symzoo.create_model("egnn"), task, trials=3)
    for factor in ("rotation", "reflection", "translation", "permutation", "all"):
        assert errs[factor] <= 1e-9, (factor, errs[factor])


def test_gnn_and_mlp_report_nonzero_errors(task):
    gnn = equivariance_errors(symzoo.create_model("gnn"), task)
    mlp = equivariance_errors(symzoo.create_model("mlp"), task)
    assert gnn["rotation"] > 1e-3 and gnn["translation"] > 1e-3
    assert gnn["permutation"] < 1e-12  # message passing is permutation equivariant
    assert min(mlp["rotation"], mlp["reflection"], mlp["permutation"]) > 1e-3


def test_linear_is_constant_velocity(task):
    b = task.example_batch(2)
    m = symzoo.create_model("linear", tau=0.5).double()
    assert torch.allclose(m(b)["pos"], b.pos + 0.5 * b.vel)


def test_mlp_rejects_wrong_system_size(task):
    b = task.example_batch(2, dtype=torch.float32)
    with pytest.raises(InputError, match="built for systems of 4 particles"):
        symzoo.create_model("mlp", n_particles=4)(b)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="hidden"):
        symzoo.create_model("egnn", hidden=0)
    with pytest.raises(SymzooError, match="no argument 'hiden'.*did you mean 'hidden'"):
        symzoo.create_model("egnn", hiden=3)


def test_unknown_model_suggests():
    with pytest.raises(SymzooError, match="did you mean 'egnn'"):
        symzoo.create_model("egn")
