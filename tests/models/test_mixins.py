"""The shipped model-test mixins: a new model is tested by subclassing one class."""

from symzoo.testing import EnergyModelTests, ModelTests


class TestEGNNBattery(ModelTests):
    model_name = "egnn"
    task_name = "nbody-charged"
    model_kwargs = {"hidden": 16, "layers": 2}


class TestSchNetEnergyBattery(EnergyModelTests):
    model_name = "schnet"
    task_name = "rmd17-ethanol"
    model_kwargs = {"channels": 16, "layers": 2, "cutoff": 4.0}
