"""The training harness: one Lightning module and data module over (model, task), configured by
YAML recipes (OmegaConf) plus ``key=value`` overrides.  Lightning is imported here, not at
``import symzoo``."""

from .config import RunConfig, load_config
from .run import train

__all__ = ["RunConfig", "load_config", "train"]
