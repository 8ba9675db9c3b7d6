import pytest
import torch

import symzoo
from symzoo.errors import InputError
from symzoo.testing import assert_forces_match_finite_differences, equivariance_errors


@pytest.fixture(scope="module")
def ethanol():
    return symzoo.get_task("rmd17-ethanol", preset="tiny")


def test_task_turns_mlp_into_an_energy_model(ethanol):
    train, _, _ = ethanol.splits()
    args = ethanol.model_defaults("mlp", train)
    # the task passes its atom count and its fields; mlp picks the energy layout from the fields
    assert args["n_particles"] == 9 and "target" not in args
    assert set(args["task"]["outputs"]) == {"energy", "forces"}
    assert ethanol.model_defaults("schnet", train) == {}
    model = symzoo.create_model("mlp", **args, hidden=16)
    assert type(model).__name__ == "EnergyMLP"
    batch = ethanol.example_batch(3)
    assert_forces_match_finite_differences(model, batch)
    out = model.double()(batch)
    assert out["energy"].shape == (3,) and out["forces"].shape == (27, 3)
    errs = equivariance_errors(model, ethanol, factors=["rotation", "translation", "permutation"])
    assert min(errs.values()) > 1e-4  # honest: no symmetry built in


def test_energy_mlp_rejects_other_sizes(ethanol):
    model = symzoo.create_model("mlp", target="energy", n_particles=8, hidden=8)
    with pytest.raises(InputError, match="structures of 8 atoms"):
        model(ethanol.example_batch(2, dtype=torch.float32))
    with pytest.raises(ValueError, match="target"):
        symzoo.create_model("mlp", target="stress")
