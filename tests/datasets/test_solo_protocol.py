"""MorphoSymm's Solo-12 protocol as the ``paper`` preset of ``configs/solo-com/*.yaml``.

MorphoSymm's ``num_layers=2`` builds three hidden layers (``range(num_layers + 1)``) with ReLU, 512
units at the published width; Adam lr 2.4e-3, batch 256, up to 600 epochs, validation every epoch
and early stopping with patience 120 (``max(10, int(0.2 * 600))``).  The recipe's resolution and
the model shapes are checked everywhere (the EMLP's with escnn); the run that stops early needs
the extra ``symzoo[robotics-pinocchio]``.
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from symzoo.train.config import load_config

import symzoo
from symzoo.extras import installed

needs_extra = pytest.mark.skipif(
    not installed("robotics-pinocchio"),
    reason="needs the robotics-pinocchio extra: pip install 'symzoo[robotics-pinocchio]' (pin, example-robot-data)",
)


@pytest.fixture(autouse=True)
def _home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path_factory.getbasetemp() / "solo_protocol_home"))


CASES = [("solo-com", "emlp"), ("solo-com-c2", "emlp"), ("solo-com", "mlp+aug"), ("solo-com", "mlp")]


@pytest.mark.parametrize("task,model", CASES)
def test_paper_preset_is_morphosymms_protocol(task, model):
    cfg = load_config(task, model, preset="paper")
    assert dict(cfg.model.args) == {"hidden": 512, "layers": 3, "act": "relu"}
    assert (cfg.optim.optimizer, cfg.optim.lr, cfg.optim.schedule) == ("adam", 2.4e-3, "none")
    assert cfg.data.batch_size == 256
    t = cfg.trainer
    assert (t.max_epochs, t.check_val_every_n_epoch, t.early_stopping_patience) == (600, 1, 120)
    assert cfg.augment == model.endswith("+aug")
    # the cheaper presets keep the harness's short schedule and no early stopping
    tiny = load_config(task, model, preset="tiny")
    assert tiny.trainer.early_stopping_patience is None and tiny.trainer.max_epochs == 5


def _mlp_layers(net: torch.nn.Module) -> tuple[list[torch.nn.Linear], list[torch.nn.Module]]:
    mods = list(net.modules())
    return [m for m in mods if isinstance(m, torch.nn.Linear)], [
        m for m in mods if isinstance(m, torch.nn.ReLU)
    ]


def test_paper_mlp_has_three_hidden_relu_layers_of_512():
    task = symzoo.get_task("solo-com")
    args = dict(load_config("solo-com", "mlp", preset="paper").model.args)
    model = symzoo.create_model("mlp", task=task, target="robot", **args)
    linears, relus = _mlp_layers(model)
    # 24 inputs (q, v of 12 joints) -> 512 -> 512 -> 512 -> 6 (linear and angular momentum)
    assert [(m.in_features, m.out_features) for m in linears] == [(24, 512), (512, 512), (512, 512), (512, 6)]
    assert len(relus) == 3
    assert not any(isinstance(m, torch.nn.ELU) for m in model.modules())
    # MorphoSymm's parameter count for this MLP at 128 units is 36,998 (3 hidden layers)
    small = symzoo.create_model("mlp", task=task, target="robot", hidden=128, layers=3, act="relu")
    assert sum(p.numel() for p in small.net.parameters()) == 36998


@pytest.mark.parametrize("task_name,order", [("solo-com", 4), ("solo-com-c2", 2)])
def test_paper_emlp_has_three_hidden_relu_layers_of_512(task_name, order):
    enn = pytest.importorskip("escnn.nn")

    task = symzoo.get_task(task_name)
    args = dict(load_config(task_name, "emlp", preset="paper").model.args)
    model = symzoo.create_model("emlp", task=task, **args)
    lins = [m for m in model.net.modules() if isinstance(m, enn.Linear)]
    relus = [m for m in model.net.modules() if isinstance(m, enn.ReLU)]
    assert len(lins) == 4 and len(relus) == 3
    hidden = [m.out_type for m in lins[:-1]]
    # 512 units = 512 / |G| copies of the regular representation (MorphoSymm's canonical_group(512))
    assert all(t.size == 512 and len(t) == 512 // order for t in hidden)
    assert all(r.name == "regular" for t in hidden for r in t.representations)
    assert lins[0].in_type.size == 24 and lins[-1].out_type.size == 6
    # the exported plain network has the same shape: Linear/ReLU x 3, then the output Linear
    linears, relus_plain = _mlp_layers(model.export())
    assert [m.out_features for m in linears] == [512, 512, 512, 6] and len(relus_plain) == 3
    if order == 4:  # MorphoSymm reports 9,249 parameters for its K4-EMLP at 128 units
        small = symzoo.create_model("emlp", task=task, hidden=128, layers=3, act="relu")
        assert sum(p.numel() for p in small.net.parameters()) == 9249


@needs_extra
def test_early_stopping_patience_stops_the_run(tmp_path):
    """With a learning rate too small to move a float32 weight, validation never improves, so a
    patience of 2 checks ends the run after epoch 3 of 50 (checked every epoch, as the paper
    preset does); without early stopping the same run goes on to max_epochs."""
    from symzoo.train.run import train

    def run(patience, out, max_epochs):
        cfg = load_config(
            "solo-com",
            "mlp",
            preset="tiny",
            overrides=[
                f"trainer.max_epochs={max_epochs}",
                "trainer.check_val_every_n_epoch=1",
                f"trainer.early_stopping_patience={patience}",
                "optim.lr=1e-30",
                "model.args.hidden=8",
                "trainer.progress_bar=false",
                "trainer.tensorboard=false",
            ],
        )
        return json.loads((train(cfg, str(tmp_path / out), quiet=True) / "eval.json").read_text())

    stopped = run(2, "stopped", 50)
    assert stopped["epochs"] == 3 and stopped["best_epoch"] == 0
    recorded = yaml.safe_load((tmp_path / "stopped" / "config.yaml").read_text())
    assert recorded["trainer"]["early_stopping_patience"] == 2
    full = run("null", "full", 4)
    assert full["epochs"] == 4
