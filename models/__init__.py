"""Model builders, one architecture family per file, registered by name.

Every model is an ``nn.Module`` that takes a batch and returns a dict of named outputs, and
declares its symmetry contract (see :class:`symzoo.models.base.SymmetryContract`).
"""

from .base import SymmetryContract, mlp

__all__ = ["SymmetryContract", "mlp"]
