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


def test_extra_3bpa_adds_shifted_training_frames_only():
    """``extra=3bpa``: 3BPA's frames (another level of theory) join the training list only, with
    their energies moved by one per-data-set offset onto the rMD17 per-species fit; forces untouched."""
    import numpy as np
    from symzoo.datasets.atoms.tasks import _composition

    plain = symzoo.get_task("rmd17-multi", preset="tiny", molecules=MOLS)
    mixed = symzoo.get_task("rmd17-multi", preset="tiny", molecules=MOLS, extra="3bpa")
    p_train, p_val, p_test = plain.splits("tiny")
    train, val, test = mixed.splits("tiny")
    assert (len(val), len(test)) == (len(p_val), len(p_test))  # validation and test: rMD17 only
    extra = [d for d in train if int(d.molecule) == 3]
    assert len(train) == len(p_train) + len(extra) and len(extra) == 4 and extra[0].num_nodes == 27
    assert "another level of theory" in mixed.description
    # the offset is what the rMD17 per-species least-squares fit says it should be
    offset = mixed.energy_offsets["3bpa"]
    assert abs(offset) > 1.0  # wB97X vs PBE: tens of eV for a 27-atom molecule
    species = [1, 6, 7, 8]
    a = _composition(p_train, species)
    e0 = np.linalg.lstsq(a, np.array([float(d.energy) for d in p_train]), rcond=None)[0]
    shifted = np.array([float(d.energy) for d in extra])
    assert abs(float(np.mean(shifted - _composition(extra, species) @ e0))) < 1e-6
    raw = symzoo.get_task("3bpa", preset="tiny").load("tiny")[0]
    by_pos = {tuple(d.pos[0].tolist()): d for d in raw}
    for d in extra:
        src = by_pos[tuple(d.pos[0].tolist())]
        assert float(d.energy) == pytest.approx(float(src.energy) - offset, abs=1e-6)
        assert torch.equal(d.forces, src.forces)


def test_energy_offset_recovers_a_known_constant():
    from types import SimpleNamespace

    from symzoo.datasets.atoms.tasks import _energy_offset

    e0 = {1: -13.6, 6: -1030.0, 8: -2040.0}

    def mol(zs, shift=0.0):
        z = torch.tensor(zs)
        return SimpleNamespace(
            z=z, energy=torch.tensor([sum(e0[int(k)] for k in zs) + shift], dtype=torch.float64)
        )

    ref = [mol([6, 1, 1, 1, 1]), mol([6, 6, 8, 1, 1]), mol([8, 1, 1]), mol([6, 8, 8])]
    assert _energy_offset(ref, [mol([6, 6, 1, 8], -7.25), mol([6, 6, 1, 8], -7.75)]) == pytest.approx(-7.5)


def test_unknown_extra_set_is_one_line_and_suggests():
    with pytest.raises(UnknownNameError, match="did you mean '3bpa'"):
        symzoo.get_task("rmd17-multi", extra="3bp")


def test_extra_offset_is_recorded_with_the_reference_energies():
    t = symzoo.get_task("rmd17-multi", preset="tiny", molecules=MOLS, extra="3bpa")
    train, _, _ = t.splits("tiny")
    info = t.prepare_model(symzoo.create_model("painn", channels=8, layers=1), train)
    assert info["reference_energies"] == "fitted"
    assert info["energy_offsets_eV"] == {"3bpa": t.energy_offsets["3bpa"]}
