"""The old module path of :mod:`symzoo.datasets.robots.tasks`: the same module object (code that
imports or patches ``symzoo.datasets.robots_tasks`` keeps working)."""

import sys

from .robots import tasks as _module

sys.modules[__name__] = _module
