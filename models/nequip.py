"""NequIP (Batzner et al., Nat. Commun. 2022): an E(3)-equivariant interatomic potential on e3nn.

Architecture (following the reference implementation where it matters):

* species embedding -> ``channels x 0e`` node features;
* edge attributes: e3nn's real spherical harmonics ``Y^l(r̂_ij)`` up to ``l_max`` (component
  normalisation) and a radial embedding: ``num_basis`` Bessel functions (trainable frequencies)
  times the polynomial cutoff envelope with ``p = 6`` (smooth to the second derivative at ``cutoff``);
* ``layers`` interaction blocks: per-irrep linear -> tensor-product convolution
  ``x_j ⊗ Y(r̂_ij) -> irreps`` (``uvu`` paths, Clebsch-Gordan coefficients from ``e3nn.o3.wigner_3j``,
  one weight per path and channel from a radial MLP of the edge embedding) summed over neighbours
  and divided by ``sqrt(avg_num_neighbors)`` -> per-irrep linear, plus a species-dependent
  self-connection, then a gated nonlinearity (SiLU on even scalars, tanh on odd scalars, sigmoid
  gates on l > 0) with a residual connection;
* a linear readout of the even scalars to per-atom energies, scaled by the training force RMS and
  shifted by per-species reference energies (``AtomisticModel``); forces by autograd.

Implementation note: features are kept as one tensor ``[N, channels, 2l+1]`` per irrep (a dict)
rather than e3nn's flat ``[N, dim]`` layout.  The maths is e3nn's ``TensorProduct`` /
``Linear`` / ``Gate``, but with no slicing of large flat tensors, whose double backward (needed
to train on forces) dominated the CPU time of the flat layout (≈5× slower at ``l_max = 2``).

``parity=True`` keeps both parities of every ``l`` in the hidden features (``0e + 0o + 1o + 1e + ...``,
the reference default); ``parity=False`` keeps only the spherical harmonics' own parity
``(-1)^l`` (``0e + 1o + 2e``): cheaper and still E(3)-equivariant (reflections included).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from symzoo.registry import register_model

from ._atoms import (
    MAX_Z,
    AtomisticModel,
    BesselBasis,
    PolynomialCutoff,
    edge_blocks,
    scatter_sum,
    split_edges,
)

__all__ = ["NequIP", "nequip", "hidden_irreps"]


def _key(lv: int, p: int) -> str:
    return f"{lv}{'e' if p == 1 else 'o'}"


def hidden_irreps(channels: int, l_max: int, parity: bool) -> list[tuple[int, int]]:
    """The hidden irreps ``(l, p)``: every ``l <= l_max`` with one or both parities."""
    out = []
    for lv in range(l_max + 1):
        natural = 1 if lv % 2 == 0 else -1
        out.append((lv, natural))
        if parity:
            out.append((lv, -natural))
    return out


def _irreps_str(channels: int, keys) -> str:
    order = sorted(keys, key=lambda k: (int(k[:-1]), k[-1] == "e" if int(k[:-1]) % 2 else k[-1] == "o"))
    return "+".join(f"{channels}x{k}" for k in order)


class IrrepLinear(nn.Module):
    """Channel mixing per irrep: ``{k: [N, c_in, 2l+1]} -> {k: [N, c_out(k), 2l+1]}`` (bias on 0e)."""

    def __init__(self, keys, c_in: int, c_out: dict[str, int] | int):
        super().__init__()
        c_out = {k: c_out for k in keys} if isinstance(c_out, int) else c_out
        self.w = nn.ParameterDict(
            {k: nn.Parameter(torch.randn(c_in, c_out[k]) / math.sqrt(c_in)) for k in keys}
        )
        self.b = nn.Parameter(torch.zeros(c_out["0e"])) if "0e" in keys else None

    def forward(self, x: dict[str, Tensor]) -> dict[str, Tensor]:
        out = {}
        for k, w in self.w.items():
            y = torch.einsum("ncm,cd->ndm", x[k], w)
            if k == "0e" and self.b is not None:
                y = y + self.b[:, None]
            out[k] = y
        return out


class Interaction(nn.Module):
    """One NequIP convolution + gate on irrep dicts (see module docstring)."""

    def __init__(
        self,
        in_keys,
        target_keys,
        channels: int,
        l_max: int,
        num_basis: int,
        radial_hidden: int,
        radial_layers: int,
        species_dim: int,
        resnet: bool,
    ):
        super().__init__()
        from e3nn import o3

        self.in_keys, self.channels = list(in_keys), channels
        paths = []
        for k1 in self.in_keys:
            l1, p1 = int(k1[:-1]), (1 if k1[-1] == "e" else -1)
            for l2 in range(l_max + 1):
                for l3 in range(abs(l1 - l2), min(l1 + l2, l_max) + 1):
                    k3 = _key(l3, p1 * (-1) ** l2)
                    if k3 in target_keys:
                        paths.append((k1, l2, k3, l1, l3))
        self.paths = paths
        self.out_keys = [k for k in target_keys if any(p[2] == k for p in paths)]
        self.fan = {k: sum(1 for p in paths if p[2] == k) for k in self.out_keys}
        # Clebsch-Gordan coefficients kept in float64 (not buffers, so that a float32 model cast to
        # float64 still has exact coefficients); converted per dtype/device on first use
        self._cg64 = [
            o3.wigner_3j(l1, l2, l3, dtype=torch.float64) * math.sqrt(2 * l3 + 1)
            for (_, l2, _, l1, l3) in paths
        ]
        self._cg_cache: dict = {}
        sizes = [num_basis] + [radial_hidden] * radial_layers
        layers: list[nn.Module] = []
        # no biases: a zero radial embedding (at and beyond the cutoff) gives zero weights, so the
        # energy is smooth at the cutoff (as in e3nn's FullyConnectedNet)
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b, bias=False), nn.SiLU()]
        layers.append(nn.Linear(sizes[-1], len(paths) * channels, bias=False))
        self.radial = nn.Sequential(*layers)
        self.linear_1 = IrrepLinear(self.in_keys, channels, channels)
        gated = [k for k in self.out_keys if not k.startswith("0")]
        self.gated = gated
        c_out = {k: channels for k in self.out_keys}
        c_out["0e"] = channels * (1 + len(gated))
        self.linear_2 = IrrepLinear(self.out_keys, channels, c_out)
        sc_keys = [k for k in self.out_keys if k in self.in_keys]
        self.sc_keys = sc_keys
        self.sc = nn.ParameterDict(
            {
                k: nn.Parameter(
                    torch.randn(species_dim, channels, c_out[k]) / math.sqrt(species_dim * channels)
                )
                for k in sc_keys
            }
        )
        self.resnet = resnet and set(self.out_keys) == set(self.in_keys)

    def _messages(
        self, h: dict[str, Tensor], j: Tensor, sh: dict[int, Tensor], radial: Tensor, cgs: list[Tensor]
    ) -> dict[str, Tensor]:
        """Messages ``{k3: [E, C, 2l3+1]}`` of the edges whose sources are ``j``."""
        c = self.channels
        hj = {k: v[j] for k, v in h.items()}
        w = self.radial(radial).view(-1, len(self.paths), c).unbind(1)
        msgs: dict[str, Tensor] = {}
        for p, (k1, l2, k3, _l1, _l3) in enumerate(self.paths):
            a = torch.einsum("ej,ijk->eik", sh[l2], cgs[p])  # [E, 2l1+1, 2l3+1]
            m = torch.bmm(hj[k1], a) * w[p][:, :, None]  # [E, C, 2l3+1]
            msgs[k3] = m if k3 not in msgs else msgs[k3] + m
        return msgs

    def _block(self, h_keys, sh_keys, cgs, j, radial, *tensors) -> tuple[Tensor, ...]:
        """One block of edges: its messages, one ``[block, C, 2l+1]`` tensor per ``out_keys``."""
        h = dict(zip(h_keys, tensors[: len(h_keys)]))
        sh = dict(zip(sh_keys, tensors[len(h_keys) :]))
        msgs = self._messages(h, j, sh, radial, cgs)
        return tuple(msgs[k] for k in self.out_keys)

    def forward(
        self,
        x: dict[str, Tensor],
        species: Tensor,
        edge_index: Tensor,
        sh: dict[int, Tensor],
        radial: Tensor,
        inv_sqrt_neighbors: Tensor,
    ) -> dict[str, Tensor]:
        i, j = edge_index
        n, c = species.shape[0], self.channels
        h = self.linear_1(x)
        key = (radial.dtype, radial.device)
        if key not in self._cg_cache:
            self._cg_cache[key] = [c.to(dtype=radial.dtype, device=radial.device) for c in self._cg64]
        cgs = self._cg_cache[key]
        # edges in blocks of EDGE_BLOCK: the per-edge [block, C, 2l+1] messages of one block stay
        # in the CPU's caches through gather, contraction, radial weighting and scatter (forward
        # and backward), instead of streaming [E, C, 2l+1] tensors through memory for each path
        # (benchmarks/forcefield_peratom_profile.py); the same sums, in another order
        # (one block when the edge count is symbolic: torch.export / symzoo export traces that)
        agg: dict[str, Tensor] = {}
        blocks = edge_blocks(i.shape[0], EDGE_BLOCK, EDGE_BLOCK)
        # inference on many blocks (MD on large cells: forces are the only backward) recomputes
        # each block's messages in the backward pass instead of keeping them (activation
        # checkpointing): memory O(atoms + one block) instead of O(edges x paths x channels)
        recompute = len(blocks) >= CHECKPOINT_MIN_BLOCKS and not self.training and torch.is_grad_enabled()
        h_keys, sh_keys = list(h), sorted(sh)
        per_block = zip(blocks, split_edges(radial, blocks), *(split_edges(sh[d], blocks) for d in sh_keys))
        for e, rad, *sh_e in per_block:
            args = (j[e], rad, *(h[k] for k in h_keys), *sh_e)
            if recompute:
                from torch.utils.checkpoint import checkpoint

                parts = checkpoint(self._block, h_keys, sh_keys, cgs, *args, use_reentrant=False)
            else:
                parts = self._block(h_keys, sh_keys, cgs, *args)
            for k, m in zip(self.out_keys, parts):
                if len(blocks) == 1:
                    agg[k] = scatter_sum(m, i[e], n)
                else:  # one node-sized accumulator per key (not one per block)
                    if k not in agg:
                        agg[k] = m.new_zeros((n, *m.shape[1:]))
                    agg[k].index_add_(0, i[e], m)
        agg = {k: v * (inv_sqrt_neighbors / math.sqrt(self.fan[k])) for k, v in agg.items()}
        out = self.linear_2(agg)
        for k in self.sc_keys:
            out[k] = out[k] + torch.einsum("nk,ncm,kcd->ndm", species, x[k], self.sc[k].to(species.dtype))
        # gate
        s = out["0e"]
        res = {"0e": nn.functional.silu(s[:, :c])}
        for g, k in enumerate(self.gated):
            res[k] = out[k] * torch.sigmoid(s[:, c * (g + 1) : c * (g + 2)])
        if "0o" in out:
            res["0o"] = torch.tanh(out["0o"])
        if self.resnet:
            res = {k: x[k] + v for k, v in res.items()}
        return res


#: edges per block in :meth:`Interaction.forward` (a block's float64 messages are a few MB)
EDGE_BLOCK = 4096
#: from this many blocks on, evaluation (not training) recomputes blocks in the backward pass
CHECKPOINT_MIN_BLOCKS = 64


class NequIP(AtomisticModel):
    """NequIP energy model: ``{pos [N, 3], z [N], batch [N]} -> {"energy": [B], "forces": [N, 3]}``."""

    def __init__(
        self,
        channels: int = 32,
        layers: int = 4,
        l_max: int = 2,
        parity: bool = True,
        num_basis: int = 8,
        cutoff: float = 5.0,
        p: int = 6,
        radial_hidden: int = 64,
        radial_layers: int = 2,
        species_dim: int = 8,
        avg_num_neighbors: float | None = None,
        resnet: bool = True,
        min_distance: float = 0.5,
    ):
        super().__init__(cutoff, min_distance)
        if channels < 1 or layers < 1 or num_basis < 1 or species_dim < 1 or radial_layers < 1:
            raise ValueError(
                "NequIP needs channels, layers, num_basis, radial_layers and species_dim >= 1; got "
                f"{channels}, {layers}, {num_basis}, {radial_layers}, {species_dim}"
            )
        if not 0 <= l_max <= 6:
            raise ValueError(f"l_max must be between 0 and 6, got {l_max}")
        if p < 2:
            raise ValueError(f"the polynomial cutoff needs p >= 2, got {p}")
        self.l_max, self.channels = l_max, channels
        target = [_key(lv, pp) for lv, pp in hidden_irreps(channels, l_max, parity)]
        self.embed = nn.Embedding(MAX_Z + 1, channels)
        self.species = nn.Embedding(MAX_Z + 1, species_dim)
        self.bessel = BesselBasis(cutoff, num_basis, trainable=True)
        self.envelope = PolynomialCutoff(cutoff, p)
        blocks, keys = [], ["0e"]
        for _ in range(layers):
            blk = Interaction(
                keys, target, channels, l_max, num_basis, radial_hidden, radial_layers, species_dim, resnet
            )
            blocks.append(blk)
            keys = blk.out_keys
        self.blocks = nn.ModuleList(blocks)
        self.readout = nn.Linear(channels, 1)
        nn.init.zeros_(self.readout.bias)  # start from the fitted reference energies
        self.irreps_hidden = _irreps_str(channels, keys)
        self.fixed_neighbors = avg_num_neighbors is not None
        self.avg_num_neighbors: Tensor  # buffer
        self.register_buffer("avg_num_neighbors", torch.tensor(float(avg_num_neighbors or 10.0)))

    @torch.no_grad()
    def fit_reference(self, structures, *, fit_scale: bool = True) -> dict:
        """Reference energies and scale (see base class) and, unless fixed, the mean neighbour count."""
        structures = list(structures)
        info = super().fit_reference(structures, fit_scale=fit_scale)
        if not self.fixed_neighbors:
            from torch_geometric.data import Batch

            from ._atoms import neighbor_list

            b = Batch.from_data_list(structures[: min(len(structures), 200)])
            ei, _ = neighbor_list(
                b.pos.double(),
                b.batch,
                b.num_graphs,
                self.cutoff,
                getattr(b, "cell", None),
                getattr(b, "pbc", None),
            )
            self.avg_num_neighbors.fill_(max(ei.shape[1] / b.pos.shape[0], 1.0))
            info["avg_num_neighbors"] = float(self.avg_num_neighbors)
        return info

    def atomic_energies(self, z: Tensor, edge_index: Tensor, vec: Tensor, num_nodes: int) -> Tensor:
        from e3nn import o3

        r = vec.norm(dim=-1)
        sh_all = o3.spherical_harmonics(
            list(range(self.l_max + 1)), vec, normalize=True, normalization="component"
        )
        sh = {lv: sh_all[:, lv * lv : (lv + 1) * (lv + 1)] for lv in range(self.l_max + 1)}
        radial = self.bessel(r) * self.envelope(r)[:, None]
        x = {"0e": self.embed(z)[:, :, None]}
        species = self.species(z)
        inv = self.avg_num_neighbors.to(radial.dtype).rsqrt()
        for blk in self.blocks:
            x = blk(x, species, edge_index, sh, radial, inv)
        return self.readout(x["0e"][:, :, 0]).squeeze(-1)


@register_model("nequip", domain="atoms")
def nequip(
    channels: int = 32,
    layers: int = 4,
    l_max: int = 2,
    parity: bool = True,
    num_basis: int = 8,
    cutoff: float = 5.0,
    p: int = 6,
    radial_hidden: int = 64,
    radial_layers: int = 2,
    species_dim: int = 8,
    avg_num_neighbors: float | None = None,
    resnet: bool = True,
    min_distance: float = 0.5,
) -> NequIP:
    """NequIP: E(3)-equivariant tensor-product convolutions with gates (Batzner et al. 2022)."""
    return NequIP(
        channels,
        layers,
        l_max,
        parity,
        num_basis,
        cutoff,
        p,
        radial_hidden,
        radial_layers,
        species_dim,
        avg_num_neighbors,
        resnet,
        min_distance,
    )
