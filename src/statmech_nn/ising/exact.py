"""Exact references for the finite L×L torus (same conventions as :mod:`.metropolis`):
averages by enumerating all 2^N states through the density of states g(E, M), and the
exact partition function for any L (Kaufman 1949), whose derivatives give e and c.
"""

import numpy as np
import torch

from statmech_nn.ising.metropolis import energy_per_spin, magnetisation_per_spin

MAX_ENUMERATED_SPINS = 20  # 2^20 states: exact enumeration stays below ~50 MB


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
