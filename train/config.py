"""Run configuration: a typed OmegaConf schema, recipes and ``key=value`` overrides.

Merge order (later wins): schema defaults < recipe (or ``-c``) < the recipe's member block for the
task (family recipes) < the recipe's ``presets.<preset>`` block < (fine-tuning only) the recipe's
``finetune`` block < command-line flags < ``key=value`` overrides.

Which recipe (:func:`recipe_path`): ``configs/<task>/<model>.yaml`` when that file exists; otherwise
the **family recipe** ``configs/<family>/<model>.yaml`` whose ``members`` block names the task,
exactly (``rmd17-ethanol``) or by a glob (``rmd17-*``, the spelling of ``symzoo list tasks``)::

    model: {args: {channels: 32}}          # shared by every member
    presets: {small: {optim: {lr: 5.0e-3}}}
    members:
      rmd17-*: {}                          # a member with no overrides
      rmd17-ethanol:                       # merged on top for this member (presets blocks too)
        presets: {small: {optim: {lr: 1.0e-2}}}

A member's overrides are the blocks of every glob key that matches it (in file order), then the
block of its exact name.  A task claimed by two family recipes for the same model is an error.  The
``members`` block is applied the same way to a recipe given with ``-c``, and never reaches the
resolved config.

A recipe's ``finetune`` block holds config keys merged on top (after the preset block, before the
command line) only when the run starts from pretrained weights (``symzoo finetune``;
``load_config(..., finetune=True)``): a fine-tuning recipe for the model family that differs from
training from scratch where a study measured it should, e.g. no weight EMA over a short fine-tune
(``configs/atoms/nequip.yaml``; docs/transfer.md).  Its own ``presets.<preset>`` block is merged
after it, for that preset's fine-tuning only (a warm-up sized for the ``small`` preset's epochs).
Members may set their own.  Like ``members`` it never reaches the resolved config; its effect
(the merged values) does.
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
    "as_dict",
    "recipe_path",
    "config_keys",
    "validate_config",
    "apply_resume_overrides",
    "PRECISIONS",
    "RESUME_FIXED_KEYS",
    "refuse_interpolations",
]

#: ``trainer.precision`` values the harness accepts (Lightning's names)
PRECISIONS = (
    "32-true",
    "32",
    "64-true",
    "64",
    "16-mixed",
    "16",
    "bf16-mixed",
    "bf16",
    "16-true",
    "bf16-true",
)
#: ``trainer.compile`` backends besides true (inductor) / false (eager, not compiled): ``aot_eager``
#: traces forward and backward without generating code (a quick check of the compiled path)
COMPILE_BACKENDS = ("inductor", "aot_eager", "eager")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")

#: keys that define what a run *is*; ``--resume`` refuses to change them
RESUME_FIXED_KEYS = (
    "task",
    "model",
    "data.preset",
    "data.train_size",
    "data.restrict",
    "data.task_args",
    "augment",
    "seed",
    "base_model",
    "init_weights",
    "freeze",
    "trainer.precision",
    "trainer.ema_decay",
)


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
    # stop (exit 2, last good checkpoint kept) when the monitored validation metric exceeds this
    # factor times its best value so far: a finite blow-up (e.g. 26 -> 1e8 meV/Å) is a divergence too
    divergence_factor: float | None = 1000.0
    check_val_every_n_epoch: int = 1
    progress_bar: bool = True
    tensorboard: bool = True
    # loggers beside CSV and TensorBoard: wandb | mlflow | "wandb,mlflow" (extras; train/loggers.py)
    logger: Any = None
    log_every_n_steps: int = 50
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    # torch.compile the training and validation steps: false | true (inductor) | a backend name
    compile: Any = False


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
    # with init_weights: re-fit task statistics (a force field's per-species reference energies) on
    # the new training frames before training (the task's prepare_model); false keeps the pretrained ones
    refit_reference: bool = True
    # with init_weights: parameter-name prefixes kept fixed (requires_grad=False) during training, e.g.
    # ["embed", "layers.0"]; recorded here so that a resumed run freezes the same parameters
    freeze: list[str] = field(default_factory=list)
    presets: dict = field(default_factory=dict)  # per-preset overrides inside recipes


def as_dict(node: Any) -> dict[str, Any]:
    """A config mapping (``model.args``, ``data.task_args``...) as a plain ``dict`` (``{}`` for
    ``None``): :func:`OmegaConf.to_container`, typed for a mapping node (OmegaConf's own return
    type is the union of every container)."""
    if node is None:
        return {}
    out = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
    if not isinstance(out, dict):
        raise SymzooError(f"expected a mapping of config keys, got {type(out).__name__}")
    return {str(k): v for k, v in out.items()}


def _merged(*nodes: Any) -> DictConfig:
    """``OmegaConf.merge`` of a ``DictConfig`` with mappings: a ``DictConfig`` (typed as such)."""
    out = OmegaConf.merge(*nodes)
    if not isinstance(out, DictConfig):  # pragma: no cover -- merging into a DictConfig gives one
        raise TypeError(f"merging configs gave a {type(out).__name__}")
    return out


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
    """The recipe shipped with symzoo for ``task`` and ``model`` (``+aug`` ignored), if any:
    ``configs/<task>/<model>.yaml`` when it exists, else the family recipe
    ``configs/<family>/<model>.yaml`` whose ``members`` block names ``task`` (see the module
    docstring; :func:`load_config` merges the member's overrides)."""
    base = model.split("+")[0]
    root = resources.files("symzoo.configs")
    p = root.joinpath(task).joinpath(f"{base}.yaml")
    if p.is_file():
        return Path(str(p))
    found = []
    for folder in sorted(root.iterdir(), key=lambda f: f.name):
        f = folder.joinpath(f"{base}.yaml")
        if folder.is_dir() and f.is_file() and _member_keys(_recipe_members(Path(str(f))), task):
            found.append(Path(str(f)))
    if len(found) > 1:
        names = ", ".join(f"configs/{f.parent.name}/{f.name}" for f in found)
        raise SymzooError(f"task {task!r} is a member of several family recipes for {base!r}: {names}")
    return found[0] if found else None


def _recipe_members(path: Path) -> dict:
    """The ``members`` block of a recipe file (empty when it has none)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception as e:  # noqa: BLE001 -- yaml's error types vary
        raise SymzooError(f"recipe {str(path)!r} is not valid YAML: {str(e).splitlines()[0]}") from None
    members = data.get("members") if isinstance(data, dict) else None
    if members is not None and not isinstance(members, dict):
        raise SymzooError(f"recipe {str(path)!r}: members must map task names (or globs) to overrides")
    return members or {}


def _member_keys(members, task: str) -> list[str]:
    """The keys of a ``members`` block that apply to ``task``: matching globs in order, then its name."""
    from fnmatch import fnmatchcase

    keys = [str(k) for k in members]
    return [k for k in keys if k != task and fnmatchcase(task, k)] + [k for k in keys if k == task]


def _apply_members(rec: DictConfig, task: str, path: Path) -> DictConfig:
    """``rec`` without its ``members`` block, with the blocks that apply to ``task`` merged on top."""
    if "members" not in rec:
        return rec
    members = rec.pop("members")
    if not isinstance(members, DictConfig):
        raise SymzooError(f"recipe {str(path)!r}: members must map task names (or globs) to overrides")
    for key in _member_keys(members, task):
        block = members[key]
        if block is None:
            continue
        if not isinstance(block, DictConfig):
            raise SymzooError(f"recipe {str(path)!r}: members.{key} must be a mapping of config keys")
        _refuse_env(block, f"recipe {path} (members.{key})")
        try:
            rec = _merged(rec, block)
        except OmegaConfBaseException as e:
            raise SymzooError(f"recipe {str(path)!r}: members.{key}: {str(e).splitlines()[0]}") from None
    return rec


def _interpolations(node, path: str = ""):
    """``(dotted key, text)`` of the first key or string value of ``node`` (a config, a plain
    container or a scalar, read without resolving anything) that holds ``${``, else ``None``."""
    if OmegaConf.is_config(node):
        node = OmegaConf.to_container(node, resolve=False)
    if isinstance(node, dict):
        for k, v in node.items():
            key = f"{path}.{k}" if path else str(k)
            if "${" in str(k):
                return key, str(k)
            found = _interpolations(v, key)
            if found:
                return found
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            found = _interpolations(v, path if isinstance(v, dict) else f"{path}[{i}]")
            if found:
                return found
    elif isinstance(node, str) and "${" in node:
        return path, node
    return None


def refuse_interpolations(node, what: str) -> None:
    """Refuse every OmegaConf interpolation (``${...}``: resolvers such as ``${oc.env:...}``, with or
    without spaces, and references to other keys) in user-controlled configuration -- a flag, a
    recipe, a stored ``config.yaml``, a leaderboard's overrides: their values would be read from
    this environment (or another key) and copied into ``config.yaml``/``model.json``/TensorBoard's
    ``hparams.yaml``, and differ between machines and resumes.  ``node``: a config, a container, a
    string or a list of ``key=value`` strings."""
    if isinstance(node, (list, tuple)) and all(isinstance(x, str) and "=" in x for x in node):
        node = [dict([x.split("=", 1)]) for x in node]  # key=value overrides: name the key
    found = _interpolations(node)
    if found:
        key, _ = found
        where = f" in {key}" if key else ""
        raise SymzooError(
            f"{what}: interpolations (${{...}}, e.g. ${{oc.env:...}}) are not supported{where} (the "
            "value would be read from this environment or another key and recorded); write the value itself"
        )


_refuse_env = refuse_interpolations


def _merge(base: DictConfig, other, what: str) -> DictConfig:
    _refuse_env(other, what)
    try:
        return _merged(base, other)
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
    finetune: bool = False,
) -> DictConfig:
    """Resolve a run configuration (see module docstring).  ``model`` may end in ``+aug``;
    ``finetune=True`` applies the recipe's ``finetune`` block."""
    cfg = OmegaConf.structured(RunConfig)
    path = Path(recipe) if recipe else recipe_path(task, model)
    preset_blocks: dict[str, Any] = {}
    ft_block: Any = None
    if path is not None:
        if not path.is_file():
            raise SymzooError(f"recipe {str(path)!r} does not exist")
        try:
            rec = OmegaConf.load(path)
        except Exception as e:
            raise SymzooError(f"recipe {str(path)!r} is not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(rec, DictConfig):
            raise SymzooError(f"recipe {str(path)!r} must be a mapping of config keys")
        refuse_interpolations(rec, f"recipe {path}")
        rec = _apply_members(rec, task, path)
        if "finetune" in rec:
            ft_block = rec.pop("finetune")
            if ft_block is not None and not isinstance(ft_block, DictConfig):
                raise SymzooError(f"recipe {str(path)!r}: finetune must be a mapping of config keys")
        blocks = rec.get("presets", None)
        preset_blocks = as_dict(blocks) if isinstance(blocks, DictConfig) else {}
        cfg = _merge(cfg, rec, f"recipe {path}")
    base, *variants = model.split("+")
    if variants not in ([], ["aug"]):
        raise SymzooError(f"model {model!r}: the only variant suffix is one '+aug' (e.g. {base}+aug)")
    if path is not None:
        # a recipe names neither the task nor the model: they come from the command (TASK MODEL)
        for key, given in (("task", task), ("model.name", base)):
            have = OmegaConf.select(cfg, key)
            if have not in ("", None, given):
                raise SymzooError(
                    f"recipe {path} sets {key}: {have!r} but the command trains {given!r}; "
                    f"remove {key} from the recipe (TASK and MODEL are the command's arguments)"
                )
    cfg.task = task
    cfg.model.name = base
    if variants:
        cfg.augment = True
    dotlist = list(overrides or [])
    refuse_interpolations(dotlist, "command line")
    for item in dotlist:
        if "=" not in item:
            raise SymzooError(f"override {item!r} must look like key=value")
    for key in _keys_of(dotlist):
        if key in ("task", "model.name", "model", "presets") or key.startswith("presets."):
            raise SymzooError(
                f"{key} cannot be set by an override: give TASK and MODEL as the command's arguments"
                if key != "presets" and not key.startswith("presets.")
                else "presets blocks belong in a recipe (-c); override the keys themselves"
            )
    if preset is None:
        for item in dotlist:
            if item.split("=", 1)[0] == "data.preset":
                preset = item.split("=", 1)[1]
    if preset is not None:
        cfg.data.preset = preset
    block = preset_blocks.get(cfg.data.preset)
    if block:
        cfg = _merge(cfg, OmegaConf.create(block), f"preset block {cfg.data.preset!r}")
    if ft_block is not None:
        # its own presets block: keys for one preset's fine-tuning only (e.g. a warm-up sized for
        # the small preset's epochs), merged after the rest of the finetune block
        ft_presets = ft_block.pop("presets") if "presets" in ft_block else None
        if ft_presets is not None and not isinstance(ft_presets, DictConfig):
            raise SymzooError(f"recipe {str(path)!r}: finetune.presets must map preset names to config keys")
        own = (ft_presets or {}).get(cfg.data.preset)
        ft_layers = [(ft_block, "finetune block")] + (
            [(own, "finetune.presets." + str(cfg.data.preset))] if own is not None else []
        )
        tuned = cfg
        for blk, where in ft_layers:
            if not isinstance(blk, DictConfig):
                raise SymzooError(f"recipe {str(path)!r}: {where} must be a mapping of config keys")
            bad = [str(k) for k in blk if k in _FT_FIXED] + (
                ["model.name"] if "name" in (blk.get("model") or {}) else []
            )
            if bad:
                raise SymzooError(f"recipe {str(path)!r}: a {where} cannot set {', '.join(bad)}")
            # merged (and so checked for unknown keys) for every run; kept for fine-tuning only
            tuned = _merge(tuned, blk, f"recipe {path} ({where})")
        if finetune:
            cfg = tuned
    if dotlist:
        try:
            cli = OmegaConf.from_dotlist(dotlist)
        except Exception as e:
            raise SymzooError(f"bad override: {str(e).splitlines()[0]}") from None
        cfg = _merge(cfg, cli, "command line")
    validate_config(cfg)
    return cfg


def _num(cfg: DictConfig, key: str):
    try:
        return OmegaConf.select(cfg, key, throw_on_missing=True)
    except OmegaConfBaseException as e:
        raise SymzooError(f"config key {key!r}: {str(e).splitlines()[0]}") from None


def validate_config(cfg: DictConfig) -> None:
    """Check every value of a resolved config; raise a one-line :class:`SymzooError` on the first
    bad one.  Called before anything is written (fresh runs and ``--resume``)."""
    import math

    def need(ok: bool, key: str, rule: str) -> None:
        if not ok:
            raise SymzooError(f"{key} must be {rule}, got {_num(cfg, key)!r}")

    def finite(x) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    _refuse_env(cfg, "config")
    need(_num(cfg, "trainer.max_epochs") >= 1, "trainer.max_epochs", ">= 1")
    need(_num(cfg, "data.batch_size") >= 1, "data.batch_size", ">= 1")
    ebs = _num(cfg, "data.eval_batch_size")
    need(ebs is None or ebs >= 1, "data.eval_batch_size", ">= 1 (or null: the training batch size)")
    ts = _num(cfg, "data.train_size")
    need(ts is None or ts >= 1, "data.train_size", ">= 1 (or null: the whole preset)")
    need(_num(cfg, "data.num_workers") >= 0, "data.num_workers", ">= 0")
    for key in ("data.batch_size", "data.eval_batch_size", "data.train_size", "trainer.max_epochs"):
        v = _num(cfg, key)
        need(v is None or v < 2**31, key, "below 2**31")
    need(_num(cfg, "data.num_workers") <= 256, "data.num_workers", "<= 256")
    lr = _num(cfg, "optim.lr")
    need(finite(lr) and lr > 0, "optim.lr", "a finite number > 0")
    for key in ("optim.weight_decay", "optim.min_lr"):
        v = _num(cfg, key)
        need(finite(v) and v >= 0, key, "a finite number >= 0")
    need(_num(cfg, "optim.warmup_epochs") >= 0, "optim.warmup_epochs", ">= 0")
    need(_num(cfg, "optim.plateau_patience") >= 0, "optim.plateau_patience", ">= 0")
    pf = _num(cfg, "optim.plateau_factor")
    need(finite(pf) and 0 < pf < 1, "optim.plateau_factor", "in (0, 1)")
    need(_num(cfg, "optim.step_size") >= 1, "optim.step_size", ">= 1")
    sg = _num(cfg, "optim.step_gamma")
    need(finite(sg) and sg > 0, "optim.step_gamma", "a finite number > 0")
    if cfg.optim.optimizer not in ("adam", "adamw", "sgd"):
        raise SymzooError(f"optim.optimizer must be adam, adamw or sgd, not {cfg.optim.optimizer!r}")
    if cfg.optim.schedule not in ("none", "cosine", "plateau", "step"):
        raise SymzooError(f"optim.schedule must be none, cosine, plateau or step, not {cfg.optim.schedule!r}")
    t = cfg.trainer
    if str(t.precision) not in PRECISIONS:
        raise SymzooError(f"trainer.precision must be one of {', '.join(PRECISIONS)}, not {t.precision!r}")
    if str(t.accelerator) not in ACCELERATORS:
        raise SymzooError(
            f"trainer.accelerator must be one of {', '.join(ACCELERATORS)}, not {t.accelerator!r}"
        )
    _check_devices(t.devices)
    need(_num(cfg, "trainer.num_nodes") >= 1, "trainer.num_nodes", ">= 1")
    gc = _num(cfg, "trainer.gradient_clip_val")
    need(
        gc is None or (finite(gc) and gc >= 0), "trainer.gradient_clip_val", "a finite number >= 0 (or null)"
    )
    ema = _num(cfg, "trainer.ema_decay")
    need(ema is None or (finite(ema) and 0 < ema < 1), "trainer.ema_decay", "in (0, 1) (or null)")
    dvf = _num(cfg, "trainer.divergence_factor")
    need(
        dvf is None or (finite(dvf) and dvf > 1), "trainer.divergence_factor", "a finite number > 1 (or null)"
    )
    esp = _num(cfg, "trainer.early_stopping_patience")
    need(esp is None or esp >= 0, "trainer.early_stopping_patience", ">= 0 (or null)")
    need(_num(cfg, "trainer.check_val_every_n_epoch") >= 1, "trainer.check_val_every_n_epoch", ">= 1")
    need(_num(cfg, "trainer.log_every_n_steps") >= 1, "trainer.log_every_n_steps", ">= 1")
    comp = cfg.trainer.get("compile", False)
    need(
        isinstance(comp, bool) or comp in COMPILE_BACKENDS,
        "trainer.compile",
        f"true, false or one of {', '.join(COMPILE_BACKENDS)}",
    )
    from .loggers import check_loggers

    check_loggers(cfg.trainer.get("logger"))  # a missing package names its extra, before any folder
    th = _num(cfg, "trainer.threads")
    need(th is None or th >= 1, "trainer.threads", ">= 1 (or null)")
    seed = _num(cfg, "seed")
    need(0 <= seed < 2**32, "seed", "in [0, 2**32)")


def _check_devices(devices) -> None:
    bad = SymzooError(
        f"trainer.devices must be a count >= 1, a list of device indices or 'auto', not {devices!r}"
    )
    if isinstance(devices, bool):
        raise bad
    if isinstance(devices, int):
        if devices < 1 and devices != -1:
            raise bad
        return
    if isinstance(devices, str):
        s = devices.strip()
        if s == "auto" or s == "-1":
            return
        parts = [p for p in s.split(",") if p.strip()]
        if not parts or not all(p.strip().isdigit() for p in parts):
            raise bad
        if len(parts) == 1 and int(parts[0]) < 1 and not s.endswith(","):
            raise bad
        return
    try:
        items = list(devices)
    except TypeError:
        raise bad from None
    if not items or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in items):
        raise bad


#: keys a recipe's finetune block may not set (they define the run, or are set by symzoo finetune)
_FT_FIXED = ("task", "presets", "members", "finetune", "init_weights", "base_model")


def _keys_of(dotlist: list[str]) -> list[str]:
    return [item.split("=", 1)[0].strip() for item in dotlist]


def apply_resume_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """The stored config of a run with ``key=value`` overrides given with ``--resume``: typed by the
    schema, validated, and refused for keys that define the run (:data:`RESUME_FIXED_KEYS`)."""
    refuse_interpolations(cfg, "config.yaml of the run")
    refuse_interpolations(list(overrides), "command line")
    for item in overrides:
        if "=" not in item:
            raise SymzooError(f"override {item!r} must look like key=value")
    for key in _keys_of(overrides):
        for fixed in RESUME_FIXED_KEYS:
            if key == fixed or key.startswith(fixed + "."):
                raise SymzooError(
                    f"{key} cannot change when resuming (it defines the run); start a new run instead"
                )
    base = _merge(OmegaConf.structured(RunConfig), cfg, "config.yaml of the run")
    if overrides:
        try:
            cli = OmegaConf.from_dotlist(list(overrides))
        except Exception as e:
            raise SymzooError(f"bad override: {str(e).splitlines()[0]}") from None
        base = _merge(base, cli, "command line")
    validate_config(base)
    return base
