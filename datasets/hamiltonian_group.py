"""The Z2 mirror of the 1-D Hamiltonian systems (spring, pendulum, chain pendulums).

The mirror image of a pendulum through the vertical plane (or of a spring through its rest
point) flips the sign of every generalized coordinate, momentum and velocity:
``(q, p, v) -> (-q, -p, -v)``.  It is the finite group C2 of :mod:`symzoo.groups` (on escnn's
``cyclic_group(2)``) with one generator named ``reflection``, acting on those fields by its sign
representation :data:`MIRROR_SIGN`.
"""

from __future__ import annotations

from symzoo.groups import CharacterRep, FiniteGroup, cyclic, sign_rep

__all__ = ["MirrorGroup", "mirror_sign"]


def MirrorGroup() -> FiniteGroup:  # noqa: N802 - kept as the historical class name
    """C2 acting on generalized coordinates by a sign flip; its factor is ``reflection``."""
    return cyclic(2, "reflection", name="Z2 (mirror)")


def mirror_sign(group: FiniteGroup) -> CharacterRep:
    """The sign representation of the mirror group: ``x -> -x`` under the mirror."""
    return sign_rep(group, name="mirror-odd")
