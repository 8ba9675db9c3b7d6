import pytest
from symzoo.train.config import load_config

from symzoo.errors import SymzooError


def test_recipe_preset_and_overrides_merge_in_order():
    cfg = load_config(
        "nbody-charged", "egnn", preset="tiny", overrides=["optim.lr=0.01", "model.args.hidden=8"]
    )
    assert cfg.optim.lr == 0.01 and cfg.model.args.hidden == 8 and cfg.model.args.layers == 4  # recipe
    assert cfg.trainer.max_epochs == 20  # the recipe's tiny block
    assert cfg.data.preset == "tiny" and not cfg.augment
    aug = load_config("nbody-charged", "mlp+aug")
    assert aug.augment and aug.model.name == "mlp"


def test_unknown_key_is_an_error_with_suggestion():
    with pytest.raises(SymzooError, match="unknown config key.*max_epoch.*did you mean 'trainer.max_epochs'"):
        load_config("nbody-charged", "egnn", overrides=["trainer.max_epoch=3"])


def test_bad_values():
    with pytest.raises(SymzooError, match="key=value"):
        load_config("nbody-charged", "egnn", overrides=["trainer.max_epochs"])
    with pytest.raises(SymzooError, match="invalid value"):
        load_config("nbody-charged", "egnn", overrides=["trainer.max_epochs=lots"])
    with pytest.raises(SymzooError, match="optim.schedule"):
        load_config("nbody-charged", "egnn", overrides=["optim.schedule=exp"])
    with pytest.raises(SymzooError, match="only variant suffix"):
        load_config("nbody-charged", "egnn+foo")


def test_recipe_file_errors(tmp_path):
    with pytest.raises(SymzooError, match="does not exist"):
        load_config("nbody-charged", "egnn", recipe=str(tmp_path / "none.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: {max_epochz: 3}\n")
    with pytest.raises(SymzooError, match="unknown config key"):
        load_config("nbody-charged", "egnn", recipe=str(bad))
