"""2D Ising model on an L×L torus (J = k_B = 1): lattice observables, checkerboard
Metropolis sampling and binned estimates with jackknife errors (tensors in and out).

Energy E = −Σ_<ij> s_i s_j over the 2N nearest-neighbour bonds of the torus,
N = L²; per-spin quantities e = E/N, m = Σ_i s_i / N. Thermodynamics per spin:
specific heat c = β² N (⟨e²⟩ − ⟨e⟩²), susceptibility χ = β N (⟨m²⟩ − ⟨|m|⟩²)
(the finite-lattice convention with |m|, Landau & Binder, "A Guide to Monte
Carlo Simulations in Statistical Physics", ch. 4). Checkerboard Metropolis updates
the two sublattices in turn, all temperatures and chains at once.
"""

from collections.abc import Sequence

import numpy as np
import torch


def neighbour_sum(spins: torch.Tensor) -> torch.Tensor:
    """Sum of the four nearest neighbours of every site, periodic; spins (..., L, L)."""
    return spins.roll(1, -1) + spins.roll(-1, -1) + spins.roll(1, -2) + spins.roll(-1, -2)


def energy_per_spin(spins: torch.Tensor) -> torch.Tensor:
    """e = −(1/N) Σ_<ij> s_i s_j, each bond once (right and down neighbours); (..., L, L)."""
    bonds = spins * (spins.roll(-1, -1) + spins.roll(-1, -2))
    return -bonds.sum((-1, -2)) / (spins.shape[-1] * spins.shape[-2])


def magnetisation_per_spin(spins: torch.Tensor) -> torch.Tensor:
    """m = (1/N) Σ_i s_i for spins (..., L, L)."""
    return spins.mean((-1, -2))


def to_blocks(spins: torch.Tensor) -> torch.Tensor:
    """(..., L, L) -> (..., 4, L/2, L/2): sublattices A (even, even), B (odd, odd) — the
    even checkerboard — and C (even, odd), D (odd, even) — the odd one. L must be even."""
    size = spins.shape[-1]
    if size % 2:
        raise ValueError(f"checkerboard Metropolis needs an even L, got L = {size}")
    return torch.stack(
        [
            spins[..., 0::2, 0::2],
            spins[..., 1::2, 1::2],
            spins[..., 0::2, 1::2],
            spins[..., 1::2, 0::2],
        ],
        dim=-3,
    )


def from_blocks(blocks: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_blocks`."""
    half = blocks.shape[-1]
    spins = blocks.new_empty(blocks.shape[:-3] + (2 * half, 2 * half))
    spins[..., 0::2, 0::2], spins[..., 1::2, 1::2] = blocks[..., 0, :, :], blocks[..., 1, :, :]
    spins[..., 0::2, 1::2], spins[..., 1::2, 0::2] = blocks[..., 2, :, :], blocks[..., 3, :, :]
    return spins


def block_neighbour_sums(blocks: torch.Tensor, even: bool) -> torch.Tensor:
    """Neighbour sums of the even (A, B) or odd (C, D) sites: (..., 2, L/2, L/2).

    On the torus site (2i, 2j) of A has D[i-1, j], D[i, j], C[i, j-1], C[i, j] as
    neighbours, and likewise for B, C, D; a roll by one block index is a step of two
    lattice sites.
    """
    a, b, c, d = blocks.unbind(-3)
    if even:
        return torch.stack(
            [d + d.roll(1, -2) + c + c.roll(1, -1), c + c.roll(-1, -2) + d + d.roll(-1, -1)], -3
        )
    return torch.stack(
        [b + b.roll(1, -2) + a + a.roll(-1, -1), a + a.roll(-1, -2) + b + b.roll(1, -1)], -3
    )


def block_energy_per_spin(blocks: torch.Tensor) -> torch.Tensor:
    """e = E/N from blocks: every bond has exactly one end on the even sublattice."""
    even = blocks[..., :2, :, :] * block_neighbour_sums(blocks, even=True)
    return -even.sum((-1, -2, -3)) / (4 * blocks.shape[-1] ** 2)


def metropolis_sweep(
    blocks: torch.Tensor, temperature: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One checkerboard Metropolis sweep: (new blocks, accepted flips per lattice).

    blocks (..., 4, L/2, L/2) from :func:`to_blocks`; temperature broadcastable
    to (..., 1, 1, 1). The sites of one sublattice have all their neighbours on
    the other, so updating a whole sublattice at once is exact single-spin
    Metropolis: flip with probability min(1, exp(−ΔE/T)), ΔE = 2 s_i Σ_nn s_j,
    i.e. when ΔE < −T ln u with u ~ U(0, 1).
    """
    accepted = torch.zeros(blocks.shape[:-3], dtype=torch.long)
    halves = []
    for even, part in ((True, blocks[..., :2, :, :]), (False, blocks[..., 2:, :, :])):
        source = blocks if even else torch.cat([halves[0], blocks[..., 2:, :, :]], dim=-3)
        delta = 2.0 * part * block_neighbour_sums(source, even)
        u = torch.rand(part.shape, generator=generator, dtype=part.dtype)
        flip = delta < -temperature * torch.log(u)
        halves.append(torch.where(flip, -part, part))
        accepted += flip.sum((-1, -2, -3))
    return torch.cat(halves, dim=-3), accepted


def simulate(
    L: int,
    temperatures: Sequence[float],
    chains: int,
    burn_in: int,
    measurements: int,
    thin: int,
    keep_samples: int,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Checkerboard Metropolis chains for every temperature at once.

    Chains start ordered (all +1), which relaxes fast at every T (a random start
    can freeze into long-lived stripes below T_c), run ``burn_in`` sweeps, then
    record e and m every ``thin`` sweeps, ``measurements`` times. Of the
    recorded configurations, ``keep_samples`` per temperature are kept, spread
    evenly over time and ordered so that consecutive samples come from
    different chains.

    Returns e and m (T, chain, record) in float64, samples (T, sample, L, L) int8
    and the acceptance rate per temperature.
    """
    temps = torch.as_tensor(temperatures, dtype=dtype)
    t = temps[:, None, None, None, None]
    blocks = to_blocks(torch.ones(len(temps), chains, L, L, dtype=dtype))
    accepted = torch.zeros(len(temps), chains, dtype=torch.long)
    for _ in range(burn_in):
        blocks, _ = metropolis_sweep(blocks, t, generator)
    per_chain = min(-(-keep_samples // chains), measurements)
    keep_at = set(np.linspace(0, measurements - 1, per_chain).round().astype(int).tolist())
    e = torch.empty(len(temps), chains, measurements, dtype=torch.float64)
    m = torch.empty_like(e)
    kept = []
    for r in range(measurements):
        for _ in range(thin):
            blocks, acc = metropolis_sweep(blocks, t, generator)
            accepted += acc
        e[:, :, r] = block_energy_per_spin(blocks).double()
        m[:, :, r] = blocks.mean((-1, -2, -3)).double()
        if r in keep_at:
            kept.append(from_blocks(blocks).to(torch.int8))
    # (T, time, chain, L, L): consecutive samples come from different chains
    samples = torch.stack(kept, dim=1).reshape(len(temps), -1, L, L)[:, :keep_samples]
    rate = accepted.sum(1).double() / (chains * measurements * thin * L * L)
    return {"e": e, "m": m, "samples": samples, "acceptance": rate}


def binned_statistics(
    e: torch.Tensor, m: torch.Tensor, temperature: torch.Tensor, n_spins: int, bins: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """⟨e⟩, ⟨|m|⟩, c and χ per temperature with binning (jackknife) errors.

    e, m (T, chain, record): each chain's records are cut into ``bins``
    consecutive bins (a remainder at the start is dropped); all chain × bin
    blocks are treated as independent, which holds when a bin is much longer
    than the autocorrelation time. Errors are leave-one-block-out jackknife
    errors (for the means that is the standard error of the block means).
    Returns name -> (value (T,), error (T,)).
    """
    records = e.shape[-1] - e.shape[-1] % bins
    beta = 1.0 / torch.as_tensor(temperature, dtype=torch.float64)[:, None]

    def blocks(x: torch.Tensor) -> torch.Tensor:
        x = x[..., e.shape[-1] - records :]
        return x.reshape(x.shape[0], -1, records // bins).mean(-1)  # (T, chain * bins)

    moments = torch.stack([blocks(e), blocks(e**2), blocks(m.abs()), blocks(m**2)])
    n_blocks = moments.shape[-1]
    total = moments.mean(-1, keepdim=True)
    leave_one_out = (total * n_blocks - moments) / (n_blocks - 1)

    def estimators(mo: torch.Tensor) -> dict[str, torch.Tensor]:
        e1, e2, am, m2 = mo
        return {
            "energy": e1,
            "abs_magnetisation": am,
            "specific_heat": beta**2 * n_spins * (e2 - e1**2),
            "susceptibility": beta * n_spins * (m2 - am**2),
        }

    full, jack = estimators(total), estimators(leave_one_out)
    out = {}
    for name in full:
        spread = ((jack[name] - jack[name].mean(-1, keepdim=True)) ** 2).sum(-1)
        out[name] = (full[name][:, 0], torch.sqrt((n_blocks - 1) / n_blocks * spread))
    return out
