"""The old module path of :mod:`symzoo.datasets.robots.pinocchio`: the same module object (code that
imports or patches ``symzoo.datasets.robots_pinocchio`` keeps working)."""

import sys

from .robots import pinocchio as _module

sys.modules[__name__] = _module
