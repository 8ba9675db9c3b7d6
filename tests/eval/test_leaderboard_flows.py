"""The 2-D flow domain in the built-in leaderboard recipes (issue 23, item 2).

Runs nothing: it checks what a leaderboard would plan for the flow row -- the task, a model that
claims the task's whole group against baselines that claim none of it, training sizes that the
recipe's data preset can serve, rollouts the test split can give -- so that
``symzoo leaderboard --preset tiny|small`` reaches the flow grid instead of failing inside it.
"""

from functools import cache

import pytest
from symzoo.eval.leaderboard import load_recipe

from symzoo.registry import create_model, get_task


@cache
def _claims(model: str) -> frozenset:
    """The factors a model (``+aug`` stripped) declares it is equivariant to; built once per name."""
    return frozenset(getattr(create_model(model.split("+")[0]), "symmetry", ()))


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_builtin_recipe_has_a_flow_row_that_its_data_can_serve(name):
    rec = load_recipe(name)
    flows = [e for e in rec["entries"] if e.domain == "flows"]
    assert len(flows) == 1, f"{name}: expected one flow row, got {[e.task for e in flows]}"
    e = flows[0]
    assert e.domain_label == get_task(e.task).domain_label == "2-D flows"
    assert e.task == "kolmogorov2d"

    task = get_task(e.task, preset=e.preset)
    factors = set(task.group.factors)
    assert factors == {"rotation", "reflection"}
    claims = {m: _claims(m) for m in (e.equivariant, e.plain)}
    assert factors <= claims[e.equivariant], claims
    assert not (factors & claims[e.plain]), claims
    assert e.augmented == f"{e.plain}+aug"

    train, _, test = task.splits(e.preset, seed=0)
    assert len(e.train_sizes) >= 2 and max(e.train_sizes) <= len(train), (e.train_sizes, len(train))
    assert e.rollout_trajectories <= test.meta["trajectories"].shape[0]
    assert e.seeds == rec["entries"][0].seeds  # the recipe's seeds, like every other row
