"""Every shipped recipe resolves to the values recorded before the recipes were consolidated into
one file per task family (``configs/atoms/``, ``configs/hamiltonian/``) with per-member overrides.

``data/resolved_recipes.json`` holds ``OmegaConf.to_container(load_config(task, model, preset=p))``
(what ``symzoo train TASK MODEL --preset P`` trains with, before any ``key=value``) for every
(task, model) pair that had a ``configs/<task>/<model>.yaml`` at the time, for every preset.  It was
written by ``python tests/train/test_recipes.py --record`` on the per-task files; a deliberate
change of a recipe's values re-records it (and says why in the commit).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import symzoo.train.config as config_module
from omegaconf import OmegaConf
from symzoo.train.config import load_config, recipe_path

from symzoo.errors import SymzooError

FIXTURE = Path(__file__).resolve().parent / "data" / "resolved_recipes.json"
PRESETS = ("tiny", "small", "paper")


def _resolve(task: str, model: str, preset: str) -> dict:
    return OmegaConf.to_container(load_config(task, model, preset=preset))


def _record() -> None:
    """Write the fixture: the pairs it already lists (first time: one per ``configs/<task>/``)."""
    root = Path(__file__).resolve().parents[2] / "configs"
    listed = [tuple(k.split("/")) for k in RECORDED]
    pairs = sorted(listed or ((p.parent.name, p.stem) for p in root.glob("*/*.yaml")))
    out = {f"{t}/{m}": {p: _resolve(t, m, p) for p in PRESETS} for t, m in pairs}
    lines = [
        f"{json.dumps(k)}: {json.dumps(v, sort_keys=True, separators=(',', ':'))}" for k, v in out.items()
    ]
    FIXTURE.write_text("{\n" + ",\n".join(lines) + "\n}\n")  # one line per pair


RECORDED = json.loads(FIXTURE.read_text()) if FIXTURE.is_file() else {}


@pytest.mark.parametrize("pair", sorted(RECORDED))
def test_recipe_resolves_to_the_recorded_config(pair):
    task, model = pair.split("/")
    for preset in PRESETS:
        assert _resolve(task, model, preset) == RECORDED[pair][preset], (pair, preset)


def _family_recipes() -> list[Path]:
    root = Path(__file__).resolve().parents[2] / "configs"
    return [p for p in sorted(root.glob("*/*.yaml")) if "members" in OmegaConf.load(p)]


def test_family_members_name_registered_tasks():
    """A typo in a ``members`` key would silently never match: every exact key is a task and every
    glob matches a listed task."""
    from fnmatch import fnmatchcase

    import symzoo

    tasks = symzoo.list_tasks()
    assert _family_recipes()
    for path in _family_recipes():
        for key in OmegaConf.load(path).members:
            if any(c in key for c in "*?["):
                assert any(fnmatchcase(t, key) for t in tasks), (path, key)
            else:
                symzoo.get_task(key)  # raises on an unknown name


def test_family_recipe_serves_members_without_a_folder():
    assert recipe_path("rmd17-benzene", "nequip").parent.name == "atoms"  # rmd17-* glob
    assert recipe_path("gravity-4-3d", "ehnn+aug").parent.name == "hamiltonian"
    assert recipe_path("nbody-charged", "egnn").parent.name == "nbody-charged"  # exact folder
    assert recipe_path("spring", "ehnn") is None  # ehnn's family recipe claims gravity-* only
    eth = load_config("rmd17-ethanol", "nequip", preset="small")
    other = load_config("rmd17-aspirin", "nequip", preset="small")
    assert (eth.optim.lr, eth.trainer.max_epochs) == (0.01, 60)  # rmd17-ethanol's member block
    assert (other.optim.lr, other.trainer.max_epochs) == (0.005, 45)
    assert "members" not in eth


@pytest.fixture
def configs_root(tmp_path, monkeypatch):
    monkeypatch.setattr(config_module, "resources", SimpleNamespace(files=lambda _pkg: tmp_path))
    return tmp_path


def _write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def test_resolution_order_exact_folder_then_family_globs_then_exact_member(configs_root):
    _write(
        configs_root,
        "fam/egnn.yaml",
        "optim: {lr: 0.1}\ntrainer: {max_epochs: 7}\npresets: {small: {trainer: {max_epochs: 8}}}\n"
        "members:\n  nbody-gravity: {optim: {lr: 0.3}, presets: {small: {seed: 4}}}\n"
        "  nbody-*: {optim: {lr: 0.2}, seed: 2}\n  nbody-charged:\n",
    )
    cfg = load_config("nbody-gravity", "egnn", preset="small")
    # the glob block, then the exact block (whatever their order in the file), then the preset
    assert (cfg.optim.lr, cfg.seed, cfg.trainer.max_epochs) == (0.3, 4, 8)
    assert load_config("nbody-charged", "egnn").optim.lr == 0.2  # an empty exact block
    _write(configs_root, "nbody-gravity/egnn.yaml", "optim: {lr: 0.5}\n")
    assert load_config("nbody-gravity", "egnn").optim.lr == 0.5  # the task's own folder wins
    assert load_config("nbody-gravity", "egnn", recipe=str(configs_root / "fam/egnn.yaml")).optim.lr == 0.3


def test_family_recipe_errors(configs_root):
    _write(configs_root, "a/egnn.yaml", "members: {nbody-*: {}}\n")
    _write(configs_root, "b/egnn.yaml", "members: {nbody-charged: {}}\n")
    with pytest.raises(SymzooError, match="several family recipes.*configs/a/egnn.yaml, configs/b/egnn.yaml"):
        recipe_path("nbody-charged", "egnn")
    _write(configs_root, "b/egnn.yaml", "members: [nbody-charged]\n")
    with pytest.raises(SymzooError, match="members must map task names"):
        recipe_path("nbody-charged", "egnn")
    _write(configs_root, "b/egnn.yaml", "members: {nbody-charged: {trainer: {max_epochz: 3}}}\n")
    with pytest.raises(SymzooError, match="unknown config key.*max_epochz"):
        load_config("nbody-charged", "egnn", recipe=str(configs_root / "b/egnn.yaml"))


def test_finetune_block_applies_only_to_fine_tuning(configs_root):
    """A recipe's ``finetune`` block (and a member's) is merged after the preset block when the run
    starts from pretrained weights, never for training from scratch, and never reaches the config."""
    _write(
        configs_root,
        "fam/egnn.yaml",
        "optim: {lr: 0.1}\ntrainer: {ema_decay: 0.99}\npresets: {small: {optim: {lr: 0.2}}}\n"
        "finetune: {trainer: {ema_decay: null}}\n"
        "members:\n  nbody-*: {}\n  nbody-gravity: {finetune: {optim: {lr: 0.05}}}\n",
    )
    scratch = load_config("nbody-gravity", "egnn", preset="small")
    ft = load_config("nbody-gravity", "egnn", preset="small", finetune=True)
    assert (scratch.trainer.ema_decay, scratch.optim.lr) == (0.99, 0.2)
    assert (ft.trainer.ema_decay, ft.optim.lr) == (None, 0.05)  # the member's block over the preset
    other = load_config("nbody-charged", "egnn", preset="small", finetune=True)
    assert (other.trainer.ema_decay, other.optim.lr) == (None, 0.2)
    # command-line overrides still win over the block
    ft_cli = load_config("nbody-gravity", "egnn", finetune=True, overrides=["trainer.ema_decay=0.9"])
    assert ft_cli.trainer.ema_decay == 0.9
    assert "finetune" not in ft and "finetune" not in scratch
    _write(configs_root, "fam/egnn.yaml", "finetune: {trainer: {ema_decai: null}}\nmembers: {nbody-*: {}}\n")
    for ft in (True, False):  # a typo in the block is found by plain training too, not first by a fine-tune
        with pytest.raises(SymzooError, match="unknown config key.*ema_decai"):
            load_config("nbody-gravity", "egnn", finetune=ft)
    _write(configs_root, "fam/egnn.yaml", "finetune: {init_weights: x}\nmembers: {nbody-*: {}}\n")
    with pytest.raises(SymzooError, match="finetune block cannot set init_weights"):
        load_config("nbody-gravity", "egnn")  # refused even when not fine-tuning: the recipe is wrong
    _write(configs_root, "fam/egnn.yaml", "finetune: [1]\nmembers: {nbody-*: {}}\n")
    with pytest.raises(SymzooError, match="finetune must be a mapping"):
        load_config("nbody-gravity", "egnn")


def test_finetune_block_has_its_own_preset_blocks(configs_root):
    """``finetune.presets.<preset>``: merged after the rest of the finetune block, for that preset's
    fine-tuning only (e.g. a warm-up sized for the small preset's epochs); checked like the block."""
    _write(
        configs_root,
        "fam/egnn.yaml",
        "optim: {lr: 0.1, warmup_epochs: 0}\npresets: {small: {optim: {lr: 0.2}}}\n"
        "finetune:\n  optim: {lr: 0.05}\n  presets: {small: {optim: {warmup_epochs: 3}}}\n"
        "members: {nbody-*: {}}\n",
    )
    small = load_config("nbody-gravity", "egnn", preset="small", finetune=True)
    tiny = load_config("nbody-gravity", "egnn", preset="tiny", finetune=True)
    scratch = load_config("nbody-gravity", "egnn", preset="small")
    assert (small.optim.lr, small.optim.warmup_epochs) == (0.05, 3)
    assert (tiny.optim.lr, tiny.optim.warmup_epochs) == (0.05, 0)
    assert (scratch.optim.lr, scratch.optim.warmup_epochs) == (0.2, 0)
    # the recipe's presets stay as written: the finetune block's presets never reach them
    assert OmegaConf.to_container(small.presets) == {"small": {"optim": {"lr": 0.2}}}
    for bad, msg in (
        ("finetune: {presets: {small: {optim: {warmup_epoch: 3}}}}", "unknown config key.*warmup_epoch"),
        ("finetune: {presets: {small: {init_weights: x}}}", "finetune.presets.small cannot set init_weights"),
        ("finetune: {presets: [1]}", "finetune.presets must map"),
    ):
        _write(configs_root, "fam/egnn.yaml", bad + "\nmembers: {nbody-*: {}}\n")
        with pytest.raises(SymzooError, match=msg):
            load_config("nbody-gravity", "egnn", preset="small")  # refused for plain training too


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    _record()
