"""2D Ising model on an L×L torus (J = k_B = 1): Metropolis sampling and exact references.

Energy E = −Σ_<ij> s_i s_j over the 2N nearest-neighbour bonds of the torus,
N = L²; per-spin quantities e = E/N, m = Σ_i s_i / N. Thermodynamics per spin:
specific heat c = β² N (⟨e²⟩ − ⟨e⟩²), susceptibility χ = β N (⟨m²⟩ − ⟨|m|⟩²)
(the finite-lattice convention with |m|, Landau & Binder, "A Guide to Monte
Carlo Simulations in Statistical Physics", ch. 4).

References: checkerboard Metropolis (the two sublattices updated in turn, all
temperatures and chains at once); exact averages by enumerating all 2^N
states through the density of states g(E, M); the exact partition function of
the finite torus for any L (Kaufman 1949), whose derivatives give e and c;
Onsager's infinite-lattice energy and specific heat and Yang's spontaneous
magnetisation (THEORY.md).
"""

from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr
from scipy.special import ellipe, ellipk

from statmech_nn.io import labelled
from statmech_nn.seeds import derive_seed

T_C = 2.0 / np.log1p(np.sqrt(2.0))  # Onsager's critical temperature 2 / ln(1 + √2)
MAX_ENUMERATED_SPINS = 20  # 2^20 states: exact enumeration stays below ~50 MB


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


def all_states(L: int) -> torch.Tensor:
    """Every ±1 configuration of an L×L lattice: (2^N, L, L) int8, N = L² <= 20."""
    n = L * L
    if n > MAX_ENUMERATED_SPINS:
        raise ValueError(f"enumeration needs L*L <= {MAX_ENUMERATED_SPINS}, got L = {L}")
    bits = (torch.arange(2**n)[:, None] >> torch.arange(n)) & 1
    return (2 * bits - 1).to(torch.int8).reshape(-1, L, L)


def density_of_states(L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact g(E, M) of the L×L torus by enumeration: (E, M, count) over occupied levels."""
    states = all_states(L).to(torch.float64)
    n = L * L
    energy = torch.round(energy_per_spin(states) * n).long()
    magnet = torch.round(magnetisation_per_spin(states) * n).long()
    levels, counts = torch.unique(torch.stack([energy, magnet], 1), dim=0, return_counts=True)
    return levels[:, 0].numpy(), levels[:, 1].numpy(), counts.numpy()


def exact_thermodynamics(L: int, temperatures: np.ndarray) -> dict[str, np.ndarray]:
    """Exact ⟨e⟩, ⟨|m|⟩, c, χ per spin (same conventions as the simulation) by enumeration."""
    energy, magnet, count = density_of_states(L)
    n = L * L
    beta = 1.0 / np.asarray(temperatures, dtype=np.float64)[:, None]
    log_w = np.log(count) - beta * energy
    w = np.exp(log_w - log_w.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    e, am = energy / n, np.abs(magnet) / n
    e1, e2, am1, m2 = w @ e, w @ e**2, w @ am, w @ am**2
    return {
        "energy": e1,
        "abs_magnetisation": am1,
        "specific_heat": beta[:, 0] ** 2 * n * (e2 - e1**2),
        "susceptibility": beta[:, 0] * n * (m2 - am1**2),
    }


def exact_log_probability(spins: torch.Tensor, temperature: float) -> torch.Tensor:
    """log p(s) = −E(s)/T − log Z(T) of configurations (S, L, L), Z by enumeration."""
    L = spins.shape[-1]
    energy, _, count = density_of_states(L)
    log_z = torch.logsumexp(torch.as_tensor(np.log(count) - energy / temperature), dim=0)
    total = energy_per_spin(spins.to(torch.float64)) * L * L
    return -total / temperature - log_z


def exact_entropy(L: int, temperature: float) -> float:
    """Entropy of the Boltzmann distribution of the whole L×L torus, in nats, by enumeration.

    H = −Σ_s p(s) ln p(s) = ln Z + ⟨E⟩/T (not per spin); −H is the best expected
    log-likelihood any model of samples from p can reach (THEORY.md, Boltzmann machines).
    """
    energy, _, count = density_of_states(L)
    log_w = np.log(count) - energy / temperature
    log_z = np.logaddexp.reduce(log_w)
    return float(log_z + (np.exp(log_w - log_z) * energy).sum() / temperature)


def _log1mexp(a: torch.Tensor) -> torch.Tensor:
    """ln(1 − e^{−a}) for a > 0, accurate at both ends (Mächler 2012)."""
    return torch.where(a < np.log(2.0), torch.log(-torch.expm1(-a)), torch.log1p(-torch.exp(-a)))


def _log_2cosh(x: torch.Tensor) -> torch.Tensor:
    """ln(2 cosh x) for x >= 0."""
    return x + torch.log1p(torch.exp(-2 * x))


def _log_2sinh(x: torch.Tensor) -> torch.Tensor:
    """ln(2 sinh x) for x > 0."""
    return x + _log1mexp(2 * x)


def kaufman_log_partition(L: int, beta: torch.Tensor) -> torch.Tensor:
    """ln Z of the L×L torus (J = 1) at inverse temperatures β (any shape), exact (Kaufman 1949).

    Z = ½ (2 sinh 2β)^{N/2} (Z₁ + Z₂ + Z₃ + Z₄), N = L², with
    Z₁ = Π_r 2cosh(Lγ_{2r+1}/2), Z₂ = Π_r 2sinh(Lγ_{2r+1}/2), Z₃ = Π_r 2cosh(Lγ_{2r}/2),
    Z₄ = Π_r 2sinh(Lγ_{2r}/2), r = 0 … L−1, cosh γ_l = cosh 2β coth 2β − cos(πl/L) for
    l ≠ 0 and γ₀ = 2β + ln tanh β, negative below T_c (Beale, PRL 76, 78 (1996), eq. 3).
    Every factor is kept as a logarithm (the products overflow float64 from L ≈ 20), and the
    l = 0 factors are split as 2cosh x₀ = e^{x₀} + e^{−x₀}, 2sinh x₀ = e^{x₀} − e^{−x₀}, so
    Z₃ + Z₄ = e^{x₀}(A + B) + e^{−x₀}(A − B) with A, B > 0 the r ≥ 1 products: a sum of
    positive terms, smooth through T_c (where Z₄ = 0) and safe for autograd.
    """
    beta = torch.as_tensor(beta, dtype=torch.float64)[..., None]
    two_k = 2 * beta
    cosh_gamma = torch.cosh(two_k) / torch.tanh(two_k) - torch.cos(
        torch.pi * torch.arange(1, 2 * L, dtype=torch.float64) / L
    )
    half = L * torch.acosh(cosh_gamma) / 2  # Lγ_l/2 for l = 1 … 2L−1, all > 0
    odd, even = half[..., 0::2], half[..., 1::2]  # l = 2r+1 (r < L) and l = 2r (1 <= r < L)
    x0 = L * (two_k + torch.log(torch.tanh(beta))) / 2

    log_a, log_b = _log_2cosh(even).sum(-1), _log_2sinh(even).sum(-1)
    # ln(B/A) = Σ ln tanh < 0, from its parts; clamped below 0 where every tanh rounds to 1
    log_ratio = (_log_2sinh(even) - _log_2cosh(even)).sum(-1).clamp(max=-torch.finfo().tiny)
    terms = torch.stack(
        [
            _log_2cosh(odd).sum(-1),
            _log_2sinh(odd).sum(-1),
            x0[..., 0] + torch.logaddexp(log_a, log_b),
            -x0[..., 0] + log_a + _log1mexp(-log_ratio),
        ],
        dim=-1,
    )
    prefactor = L * L / 2 * torch.log(2 * torch.sinh(two_k[..., 0])) - np.log(2.0)
    return prefactor + torch.logsumexp(terms, dim=-1)


def kaufman_thermodynamics(L: int, temperatures: np.ndarray) -> dict[str, np.ndarray]:
    """Exact energy and specific heat per spin of the L×L torus from :func:`kaufman_log_partition`.

    e = −(1/N) ∂ln Z/∂β and c = (β²/N) ∂²ln Z/∂β², differentiated exactly by autograd
    (float64); the same conventions as :func:`exact_thermodynamics`, any L.
    """
    beta = (1.0 / torch.as_tensor(temperatures, dtype=torch.float64)).requires_grad_(True)
    (first,) = torch.autograd.grad(kaufman_log_partition(L, beta).sum(), beta, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), beta)
    n = L * L
    return {
        "energy": (-first / n).detach().numpy(),
        "specific_heat": (beta**2 * second / n).detach().numpy(),
    }


def _onsager_k(temperature: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    beta = 1.0 / np.asarray(temperature, dtype=np.float64)
    k2 = np.minimum((2.0 * np.sinh(2 * beta) / np.cosh(2 * beta) ** 2) ** 2, 1.0)
    return beta, np.tanh(2 * beta), k2


def onsager_energy(temperature: np.ndarray) -> np.ndarray:
    """Energy per spin of the infinite lattice (Onsager 1944).

    u = −coth(2β) [1 + (2/π)(2 tanh²(2β) − 1) K(k)], k = 2 sinh(2β)/cosh²(2β);
    at T_c the bracket's second term vanishes (its factor is 0, K diverges only
    logarithmically), so u(T_c) = −coth(2β_c).
    """
    beta, t, k2 = _onsager_k(temperature)
    with np.errstate(invalid="ignore"):
        term = np.where(k2 < 1.0, (2 * t**2 - 1) * ellipk(k2), 0.0)
    return -(1 + 2 / np.pi * term) / t


def onsager_specific_heat(temperature: np.ndarray) -> np.ndarray:
    """Specific heat per spin of the infinite lattice, du/dT (diverges at T_c; inf there).

    c = (4/π)(β coth 2β)² {K(k) − E(k) − (1 − tanh² 2β)[π/2 + (2 tanh² 2β − 1) K(k)]}.
    """
    beta, t, k2 = _onsager_k(temperature)
    with np.errstate(divide="ignore", invalid="ignore"):
        big_k, big_e = ellipk(k2), ellipe(k2)
        c = (
            4
            / np.pi
            * (beta / t) ** 2
            * (big_k - big_e - (1 - t**2) * (np.pi / 2 + (2 * t**2 - 1) * big_k))
        )
    return np.where(k2 < 1.0, c, np.inf)


def onsager_magnetisation(temperature: np.ndarray) -> np.ndarray:
    """Spontaneous magnetisation per spin (Yang 1952): (1 − sinh⁻⁴(2β))^{1/8} below T_c, else 0."""
    beta = 1.0 / np.asarray(temperature, dtype=np.float64)
    inner = 1.0 - np.sinh(2 * beta) ** -4.0
    return np.where(inner > 0, np.abs(inner) ** 0.125, 0.0)


QUANTITIES = {
    "energy": ("energy per spin <e>", "J"),
    "abs_magnetisation": ("absolute magnetisation per spin <|m|>", "1"),
    "specific_heat": ("specific heat per spin c", "k_B"),
    "susceptibility": ("susceptibility per spin chi", "1/J"),
}
KAUFMAN_QUANTITIES = ("energy", "specific_heat")  # what the finite-lattice Z gives exactly


def thermodynamics(
    L: int,
    temperatures: Sequence[float],
    chains: int,
    burn_in: int,
    measurements: int,
    thin: int,
    bins: int,
    keep_samples: int,
    seed: int,
    theory_points: int = 300,
) -> xr.Dataset:
    """Simulated thermodynamics of the L×L torus with errors, samples and exact references.

    Holds ⟨e⟩, ⟨|m|⟩, c, χ and their binning errors per temperature, the kept
    configurations (for Boltzmann machines), Onsager's curves on a fine grid,
    the exact finite-lattice e and c (Kaufman) at the simulated temperatures and
    on the fine grid and, when L² <= MAX_ENUMERATED_SPINS, exact enumeration of
    all four quantities at the same points.
    """
    gen = torch.Generator().manual_seed(derive_seed(seed, "ising", L))
    temps = np.asarray(temperatures, dtype=np.float64)
    run = simulate(L, temps, chains, burn_in, measurements, thin, keep_samples, gen)
    stats = binned_statistics(run["e"], run["m"], torch.as_tensor(temps), L * L, bins)
    fine = np.linspace(temps.min(), temps.max(), theory_points)
    data = {
        "samples": labelled(
            run["samples"].numpy(), ("temperature", "sample", "row", "column"), "spin configuration"
        ),
        "acceptance": labelled(
            run["acceptance"].numpy(), ("temperature",), "Metropolis acceptance"
        ),
        "onsager_energy": labelled(
            onsager_energy(fine), ("temperature_theory",), "Onsager energy per spin", "J"
        ),
        "onsager_specific_heat": labelled(
            onsager_specific_heat(fine), ("temperature_theory",), "Onsager specific heat", "k_B"
        ),
        "onsager_abs_magnetisation": labelled(
            onsager_magnetisation(fine), ("temperature_theory",), "Yang spontaneous magnetisation"
        ),
    }
    for name, (long_name, units) in QUANTITIES.items():
        value, err = stats[name]
        data[name] = labelled(value.numpy(), ("temperature",), long_name, units)
        data[f"{name}_err"] = labelled(
            err.numpy(), ("temperature",), f"binning (jackknife) error of {long_name}", units
        )
    at_temps, on_grid = kaufman_thermodynamics(L, temps), kaufman_thermodynamics(L, fine)
    for name in KAUFMAN_QUANTITIES:
        long_name, units = QUANTITIES[name]
        data[f"kaufman_{name}"] = labelled(
            at_temps[name], ("temperature",), f"exact {long_name} (Kaufman, L x L torus)", units
        )
        data[f"kaufman_{name}_theory"] = labelled(
            on_grid[name],
            ("temperature_theory",),
            f"exact {long_name} (Kaufman, L x L torus)",
            units,
        )
    if L * L <= MAX_ENUMERATED_SPINS:
        at_temps, on_grid = exact_thermodynamics(L, temps), exact_thermodynamics(L, fine)
        for name, (long_name, units) in QUANTITIES.items():
            data[f"exact_{name}"] = labelled(
                at_temps[name], ("temperature",), f"exact {long_name} (enumeration)", units
            )
            data[f"exact_{name}_theory"] = labelled(
                on_grid[name], ("temperature_theory",), f"exact {long_name} (enumeration)", units
            )
    return xr.Dataset(
        data,
        coords={
            "temperature": ("temperature", temps, {"long_name": "temperature T", "units": "J/k_B"}),
            "temperature_theory": (
                "temperature_theory",
                fine,
                {"long_name": "temperature T (theory grid)", "units": "J/k_B"},
            ),
            "sample": ("sample", np.arange(run["samples"].shape[1]), {"long_name": "sample"}),
            "row": ("row", np.arange(L), {"long_name": "lattice row"}),
            "column": ("column", np.arange(L), {"long_name": "lattice column"}),
        },
        attrs={
            "L": L,
            "T_c": T_C,
            "chains": chains,
            "burn_in": burn_in,
            "measurements": measurements,
            "thin": thin,
            "bins": bins,
        },
    )
