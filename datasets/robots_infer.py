"""The old module path of :mod:`symzoo.datasets.robots.infer`: the same module object (code that
imports or patches ``symzoo.datasets.robots_infer`` keeps working)."""

import sys

from .robots import infer as _module

sys.modules[__name__] = _module
