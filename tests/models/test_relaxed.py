"""egnn-rpp (models/relaxed.py): the residual pathway prior reaches the training loss."""

import torch

import symzoo
from symzoo.testing import ModelTests, equivariance_errors


class TestRelaxedEGNN(ModelTests):
    model_name = "egnn-rpp"
    task_name = "nbody-charged"
    model_kwargs = {"hidden": 16, "layers": 2, "residual_hidden": 16}


def test_claims_only_what_it_keeps():
    model = symzoo.create_model("egnn-rpp", hidden=16, layers=2)
    assert model.symmetry == {"translation", "permutation"}
    errs = equivariance_errors(model, symzoo.get_task("nbody-charged"), factors=["rotation", "reflection"])
    assert min(errs.values()) > 1e-4  # the residual breaks rotations, visibly at initialisation


def test_penalty_is_the_residual_l2_and_reaches_the_loss():
    from symzoo.train.module import SymzooModule

    task = symzoo.get_task("nbody-charged")
    model = symzoo.create_model("egnn-rpp", hidden=16, layers=2, residual_hidden=8, prior=0.5)
    expected = 0.5 * sum(float(p.pow(2).sum()) for p in model.residual.parameters())
    assert abs(float(model.regularization()) - expected) < 1e-6 * max(expected, 1)
    module = SymzooModule(model, task, optim={"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0})
    module.log = lambda *a, **k: None  # no trainer attached
    batch = task.example_batch(4, dtype=torch.float32)
    with_prior = module.training_step(batch, 0)
    data_loss = task.loss(model(batch), batch)
    assert torch.allclose(with_prior, data_loss + model.regularization(), rtol=1e-6)
    # the gradient of the penalty reaches (only) the residual pathway
    model.zero_grad()
    model.regularization().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.residual.parameters())
    assert all(p.grad is None for p in model.equivariant.parameters())
    # models without a penalty add nothing
    plain = SymzooModule(
        symzoo.create_model("egnn", hidden=16, layers=2),
        task,
        optim={"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0},
    )
    plain.log = lambda *a, **k: None
    assert torch.allclose(plain.training_step(batch, 0), task.loss(plain.model(batch), batch))


def test_prior_zero_and_bad_arguments():
    import pytest

    m = symzoo.create_model("egnn-rpp", hidden=8, layers=1, prior=0.0)
    assert float(m.regularization()) == 0.0
    with pytest.raises(ValueError):
        symzoo.create_model("egnn-rpp", prior=-1.0)
    with pytest.raises(ValueError):
        symzoo.create_model("egnn-rpp", residual_layers=0)
