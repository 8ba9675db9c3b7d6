"""Run configuration: a typed OmegaConf schema, recipes and ``key=value`` overrides.

Merge order (later wins): schema defaults < recipe ``configs/<task>/<model>.yaml`` (or ``-c``)
< the recipe's ``presets.<preset>`` block < command-line flags < ``key=value`` overrides.
Unknown keys are errors with a suggestion; ``model.args`` is checked against the builder's
signature when the model is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from symzoo.errors import SymzooError, suggest

__all__ = [
    "RunConfig",
    "ModelConfig",
    "DataConfig",
    "OptimConfig",
    "TrainerConfig",
    "load_config",
    "recipe_path",
    "config_keys",
]


@dataclass
class ModelConfig:
    name: str = ""
    args: dict = field(default_factory=dict)


@dataclass
class DataConfig:
    preset: str = "tiny"
    train_size: int | None = None  # first N training samples (learning curves)
    batch_size: int = 100
    eval_batch_size: int | None = None
    num_workers: int = 0
    restrict: bool = False  # train on the symmetry-restricted set (orbit study)
    task_args: dict = field(default_factory=dict)


@dataclass
class OptimConfig:
    optimizer: str = "adam"  # adam | adamw | sgd
    lr: float = 5e-4
    weight_decay: float = 0.0
    schedule: str = "none"  # none | cosine | plateau | step
    warmup_epochs: int = 0
    min_lr: float = 0.0
    plateau_patience: int = 10
    plateau_factor: float = 0.5
    step_size: int = 100
    step_gamma: float = 0.5


@dataclass
class TrainerConfig:
    max_epochs: int = 100
    accelerator: str = "auto"  # auto | cpu | gpu | cuda
    devices: Any = 1  # int, list or "auto"
    num_nodes: int = 1
    strategy: str = "auto"  # auto | ddp | ddp_spawn ...
    precision: str = "32-true"  # 32-true | 64-true | bf16-mixed | 16-mixed
    gradient_clip_val: float | None = None
    ema_decay: float | None = None  # e.g. 0.99: evaluate and export the weight EMA
    early_stopping_patience: int | None = None  # in validation checks
    check_val_every_n_epoch: int = 1
    progress_bar: bool = True
    tensorboard: bool = True
    log_every_n_steps: int = 50
    threads: int | None = None  # torch intra-op threads (None: torch's default)


@dataclass
class RunConfig:
    task: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    seed: int = 0
    augment: bool = False  # random group elements on every training batch
    base_model: str | None = None  # set by fine-tuning
    init_weights: str | None = None  # a model.safetensors to start from
    presets: dict = field(default_factory=dict)  # per-preset overrides inside recipes


def config_keys(cfg=None, prefix: str = "") -> list[str]:
    cfg = OmegaConf.structured(RunConfig) if cfg is None else cfg
    keys = []
    for k, v in cfg.items():
        path = f"{prefix}{k}"
        keys.append(path)
        if isinstance(v, DictConfig) and k not in ("args", "task_args", "presets"):
            keys.extend(config_keys(v, path + "."))
    return keys


def recipe_path(task: str, model: str) -> Path | None:
    """The recipe ``configs/<task>/<model>.yaml`` shipped with symzoo, if any."""
    base = model.split("+")[0]
    root = resources.files("symzoo.configs")
    for name in (f"{task}/{base}.yaml",):
        p = root.joinpath(name)
        if p.is_file():
            return Path(str(p))
    return None


def _merge(base: DictConfig, other, what: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, other)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or getattr(e, "key", None) or ""
        if "Key" in type(e).__name__ or "not in struct" in str(e):
            raise SymzooError(
                f"{what}: unknown config key {key!r}{suggest(str(key), config_keys())}"
            ) from None
        raise SymzooError(f"{what}: invalid value for {key!r}: {str(e).splitlines()[0]}") from None


def load_config(
    task: str,
    model: str,
    *,
    recipe: str | None = None,
    preset: str | None = None,
    overrides: list[str] | None = None,
) -> DictConfig:
    """Resolve a run configuration (see module docstring).  ``model`` may end in ``+aug``."""
    cfg = OmegaConf.structured(RunConfig)
    path = Path(recipe) if recipe else recipe_path(task, model)
    preset_blocks = {}
    if path is not None:
        if not path.is_file():
            raise SymzooError(f"recipe {str(path)!r} does not exist")
        try:
            rec = OmegaConf.load(path)
        except Exception as e:
            raise SymzooError(f"recipe {str(path)!r} is not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(rec, DictConfig):
            raise SymzooError(f"recipe {str(path)!r} must be a mapping of config keys")
        blocks = rec.get("presets", None)
        preset_blocks = OmegaConf.to_container(blocks) if isinstance(blocks, DictConfig) else {}
        cfg = _merge(cfg, rec, f"recipe {path}")
    cfg.task = task
    cfg.model.name = model.split("+")[0]
    if model.endswith("+aug"):
        cfg.augment = True
    elif "+" in model:
        raise SymzooError(f"model {model!r}: the only variant suffix is '+aug'")
    dotlist = list(overrides or [])
    for item in dotlist:
        if "=" not in item:
            raise SymzooError(f"override {item!r} must look like key=value")
    if preset is None:
        for item in dotlist:
            if item.split("=", 1)[0] == "data.preset":
                preset = item.split("=", 1)[1]
    if preset is not None:
        cfg.data.preset = preset
    block = preset_blocks.get(cfg.data.preset)
    if block:
        cfg = _merge(cfg, OmegaConf.create(block), f"preset block {cfg.data.preset!r}")
    if dotlist:
        try:
            cli = OmegaConf.from_dotlist(dotlist)
        except Exception as e:
            raise SymzooError(f"bad override: {str(e).splitlines()[0]}") from None
        cfg = _merge(cfg, cli, "command line")
    if cfg.data.batch_size < 1 or cfg.trainer.max_epochs < 0:
        raise SymzooError("data.batch_size must be >= 1 and trainer.max_epochs >= 0")
    if cfg.optim.optimizer not in ("adam", "adamw", "sgd"):
        raise SymzooError(f"optim.optimizer must be adam, adamw or sgd, not {cfg.optim.optimizer!r}")
    if cfg.optim.schedule not in ("none", "cosine", "plateau", "step"):
        raise SymzooError(f"optim.schedule must be none, cosine, plateau or step, not {cfg.optim.schedule!r}")
    return cfg
