"""Pretrained entries outside N-body: Hamiltonian dynamics (rollout drift) and force fields (energy/forces)."""

from __future__ import annotations

import pytest
import torch

import symzoo
from symzoo import hub

HAMILTONIAN = ["hnn.spring", "node.spring", "ehnn.gravity-2"]
FORCE_FIELDS = ["schnet.rmd17-ethanol", "painn.rmd17-ethanol", "nequip.rmd17-ethanol"]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SYMZOO_OFFLINE", raising=False)
    yield


@pytest.mark.parametrize("name", HAMILTONIAN)
def test_hamiltonian_entries_record_their_rollout_drift(name):
    e = hub.get_entry(name)
    ro = e["metrics"]["rollout"]
    assert ro["steps"] == 1000 and ro["n_traj"] == 16 and ro["split"] == "test" and ro["dtype"] == "float64"
    assert ro["diverged"] == 0.0 and 0 < ro["energy_drift_reference"] < 1e-6
    assert set(e["metrics"]["units"]) == set(e["metrics"]["test"]) and e["metrics"]["primary"] == "deriv_mse"
    # the conservation statement says what is built in, and the rollout supports it
    built_in = "by construction" in e["conservation"]
    assert built_in == (e["builder"] in {"hnn", "ehnn"})
    assert ro["energy_drift"] < (0.01 if built_in else 10.0)


def test_hamiltonian_structure_conserves_energy_better_than_a_plain_neural_ode():
    hnn, node = (hub.get_entry(n)["metrics"]["rollout"] for n in ("hnn.spring", "node.spring"))
    assert hnn["energy_drift"] * 10 < node["energy_drift"]
    assert hnn["energy_drift_final"] * 10 < node["energy_drift_final"]
    ehnn = hub.get_entry("ehnn.gravity-2")
    assert ehnn["metrics"]["rollout"]["momentum_drift"] < 1e-10  # E(2)-invariant H: Noether, measured
    assert max(ehnn["equivariance"]["relative_error"].values()) < 1e-10


def test_more_expressive_force_fields_are_more_accurate_on_the_same_budget_preset():
    mae = {n: hub.get_entry(n)["metrics"]["test"]["force_mae_meV_per_A"] for n in FORCE_FIELDS}
    assert mae["nequip.rmd17-ethanol"] < mae["painn.rmd17-ethanol"] < mae["schnet.rmd17-ethanol"]
    assert all(hub.get_entry(n)["metrics"]["n_test"] == 1000 for n in FORCE_FIELDS)


@pytest.mark.parametrize("name", FORCE_FIELDS)
def test_force_field_entries_give_conservative_equivariant_forces(name):
    from symzoo.task import cast_batch
    from symzoo.testing import assert_forces_match_finite_differences

    e = hub.get_entry(name)
    assert (
        e["metrics"]["primary"] == "force_mae_meV_per_A"
        and e["metrics"]["units"]["force_mae_meV_per_A"] == "meV/Å"
    )
    assert e["reference"]["output"] == "forces" and "energy" in e["reference"]["tolerance"]["per_output"]
    model = symzoo.load_pretrained(name)
    batch, expected = hub.reference_batch(name)
    assert expected["energy"].shape == (3,) and expected["forces"].shape == (27, 3)  # 3 ethanol molecules
    assert_forces_match_finite_differences(model, batch, n_checks=2)
    # rotate every molecule: energies unchanged, forces rotate with it (float64)
    b = cast_batch(batch, torch.float64)
    rot = torch.linalg.qr(
        torch.randn(3, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    )[0]
    m = model.double()
    with torch.enable_grad():
        out = m(b)
        rb = b.clone()
        rb.pos = torch.einsum("nij,nj->ni", rot[b.batch], b.pos)
        rout = m(rb)
    torch.testing.assert_close(rout["energy"], out["energy"], rtol=1e-10, atol=1e-8)
    torch.testing.assert_close(
        rout["forces"], torch.einsum("nij,nj->ni", rot[b.batch], out["forces"]), rtol=1e-8, atol=1e-8
    )
