"""The multi-molecule rMD17 task: per-molecule splits, mixed atom counts in one batch, shared
per-species reference energies, leave-one-out ``exclude``, one-line errors, and the reference
shift a pretrained force field gets when it is fine-tuned."""

import pytest
import torch

import symzoo
from symzoo.errors import InputError, UnknownNameError

MOLS = "ethanol,malonaldehyde,uracil"


@pytest.fixture(scope="module")
def task():
    return symzoo.get_task("rmd17-multi", preset="tiny", molecules=MOLS)


def test_splits_interleave_molecules_with_different_atom_counts(task):
    train, val, test = task.splits("tiny")
    assert task.molecules == ("ethanol", "malonaldehyde", "uracil")
    assert (len(train), len(val), len(test)) == (12, 6, 9)  # per molecule: 4 / 2 / 3
    assert [int(d.molecule) for d in train[:6]] == [0, 1, 2, 0, 1, 2]
    assert [d.num_nodes for d in train[:3]] == [9, 9, 12]
    assert {int(d.z.max()) for d in train} == {8}  # H, C, N, O only
    assert {7} <= {int(z) for d in train for z in d.z}
    # the loaders batch the mixture (PyG): one batch, three atom counts
    batch = next(iter(task.loader(train, 6)))
    task.validate_batch(batch)
    assert batch.num_graphs == 6 and batch.pos.shape[0] == 2 * (9 + 9 + 12)
    model = symzoo.create_model("painn", channels=8, layers=1)
    task.prepare_model(model, train)
    out = model(batch)
    assert out["energy"].shape == (6,) and out["forces"].shape == (60, 3)
    assert torch.isfinite(task.loss(out, batch))


def test_reference_energies_are_shared_across_molecules(task):
    train, _, _ = task.splits("tiny")
    model = symzoo.create_model("painn", channels=8, layers=1)
    task.prepare_model(model, train)
    assert model.known_species.nonzero().flatten().tolist() == [1, 6, 7, 8]
    ref = model.atomic_reference.double()
    # one E0 per species fitted on the mixture explains every molecule's energy to within ~1 eV
    for d in train:
        assert abs(float(ref[d.z].sum()) - float(d.energy)) < 2.0


def test_exclude_and_errors():
    t = symzoo.get_task("rmd17-multi", molecules=["ethanol", "uracil", "malonaldehyde"], exclude="ethanol")
    assert t.molecules == ("uracil", "malonaldehyde") and "held out: ethanol" in t.description
    assert len(symzoo.get_task("rmd17-multi").molecules) == 7  # default: the bundled molecules
    with pytest.raises(UnknownNameError, match="did you mean 'ethanol'"):
        symzoo.get_task("rmd17-multi", molecules="ethanoll,uracil")
    with pytest.raises(InputError, match="leaves no molecule"):
        symzoo.get_task("rmd17-multi", molecules="ethanol", exclude="ethanol")


def test_cli_exclude_everything_exits_2_in_one_line(tmp_path, capsys):
    from symzoo.cli import main

    out = tmp_path / "run"
    code = main(
        ["train", "rmd17-multi", "painn", "--preset", "tiny", "--quiet", "--out", str(out)]
        + ["data.task_args.molecules=ethanol", "data.task_args.exclude=ethanol"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "leaves no molecule" in err[0] and not out.exists()


def test_finetuning_keeps_the_scale_and_shifts_the_references(task):
    train, _, _ = task.splits("tiny")
    model = symzoo.create_model("painn", channels=8, layers=1)
    task.prepare_model(model, train)  # "pretraining" on the mixture
    scale = float(model.energy_scale)
    target = symzoo.get_task("rmd17-ethanol", preset="tiny")
    ft_train = target.splits("tiny")[0]
    target.prepare_model(model, ft_train)  # the model knows H, C, O: a shift, not a refit
    assert float(model.energy_scale) == scale
    from torch_geometric.data import Batch

    e = model(Batch.from_data_list(ft_train))["energy"].detach().double()
    err = e - torch.cat([d.energy for d in ft_train])
    assert abs(float(err.mean())) < 1e-3
