"""Stochastic traces and spectral densities of a symmetric matmat.

- Hutchinson: E[zᵀAz] = tr A for Rademacher z (Hutchinson 1990).
- From loss values only: E[δᵀHδ] = tr H for δ ~ N(0, I), δᵀHδ from a central
  second difference (Böttcher & Wheeler, J. Stat. Mech. 2024).
- Spectral density: stochastic Lanczos quadrature (Lin, Saad & Yang 2016;
  Ghorbani, Krishnan & Xiao 2019) with full reorthogonalisation and Gaussian
  broadening; the density of eigenvalues normalised to integrate to 1.
"""

import math
from dataclasses import dataclass

import torch
from torch.func import vmap

from statmech_nn.hessian.eigen import _orthogonalise
from statmech_nn.hessian.operators import Loss, MatMat, _over_lead


@dataclass(frozen=True)
class TraceEstimate:
    """A stochastic trace estimate (*lead): sample mean, its standard error, the samples."""

    mean: torch.Tensor
    stderr: torch.Tensor
    samples: torch.Tensor

    @classmethod
    def of(cls, samples: torch.Tensor) -> "TraceEstimate":
        m = samples.shape[-1]
        return cls(samples.mean(-1), samples.std(-1, correction=1) / math.sqrt(m), samples)


def rademacher(shape: tuple[int, ...], generator: torch.Generator, dtype, device=None):
    """Independent ±1 entries with equal probability."""
    z = torch.randint(0, 2, shape, generator=generator, dtype=torch.int8)
    return (2 * z - 1).to(dtype=dtype, device=device)


def hutchinson_trace(
    matmat: MatMat,
    shape: tuple[int, ...],
    probes: int,
    *,
    seed: int = 0,
    chunk_size: int = 16,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> TraceEstimate:
    """tr A for each replica by Hutchinson's estimator: the mean of zᵀAz, z Rademacher.

    ``shape`` is (*lead, P); probes run ``chunk_size`` at a time through the
    batched matmat. Var[zᵀAz] = 2(‖A‖_F² − Σ A_ii²) per probe (Hutchinson 1990).
    """
    *lead, n = shape
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for start in range(0, probes, chunk_size):
        z = rademacher((*lead, min(chunk_size, probes - start), n), gen, dtype, device)
        samples.append((z * matmat(z)).sum(-1))
    return TraceEstimate.of(torch.cat(samples, dim=-1).detach())


def loss_value_trace(
    loss: Loss,
    theta: torch.Tensor,
    probes: int,
    step: float,
    *,
    seed: int = 0,
    chunk_size: int = 64,
) -> TraceEstimate:
    """tr H from loss values only: the mean of δᵀHδ over δ ~ N(0, I_P).

    With u = δ/|δ|, δᵀHδ = |δ|² κ(u) and κ(u) is the central second difference
    [L(θ+hu) − 2L(θ) + L(θ−hu)]/h² (error O(h²), from the fourth derivative).
    E[δᵀHδ] = tr H and Var = 2 tr H² (THEORY.md). ``theta (*lead, P)``;
    ``step`` = h is the length of the displacement.
    """
    *lead, n = theta.shape
    gen = torch.Generator().manual_seed(seed)
    delta = torch.randn((*lead, probes, n), generator=gen, dtype=theta.dtype).to(theta.device)
    sq = (delta**2).sum(-1)
    u = delta / sq.sqrt().unsqueeze(-1)
    base = theta.unsqueeze(-2)
    points = torch.stack([base + step * u, base - step * u], dim=-2).reshape(-1, n)
    values = torch.cat([vmap(loss)(c) for c in points.split(chunk_size)])
    values = values.reshape(*lead, probes, 2)
    centre = _over_lead(loss, theta.dim() - 1)(theta).unsqueeze(-1)
    kappa = (values[..., 0] + values[..., 1] - 2 * centre) / step**2
    return TraceEstimate.of((sq * kappa).detach())


def running_estimates(samples: torch.Tensor, probes: torch.Tensor) -> torch.Tensor:
    """The estimate from the first m probes, for every m in ``probes`` (K,): (*lead, K).

    ``samples (*lead, M)`` are one estimator's per-probe samples (a
    :class:`TraceEstimate`'s), so the estimates at growing m are nested, as a
    user adding probes would see them. Cost of m probes: m HVPs (Hutchinson) or
    2m + 1 loss values (:func:`loss_value_trace`).
    """
    m = samples.shape[-1]
    if probes.numel() and not (1 <= int(probes.min()) and int(probes.max()) <= m):
        raise ValueError(f"probes {probes.tolist()}: expected 1..{m}")
    means = samples.cumsum(-1) / torch.arange(1, m + 1, dtype=samples.dtype, device=samples.device)
    return means[..., probes.long() - 1]


@dataclass(frozen=True)
class Quadrature:
    """Stochastic Lanczos quadrature: Ritz values (*lead, probes, steps) and their weights.

    For each probe q (unit norm), Σ_j weights_j δ(λ − nodes_j) is the Gauss
    quadrature of the spectral measure Σ_i (q·v_i)² δ(λ − λ_i); averaged over
    Rademacher probes it estimates the eigenvalue density (1/P) Σ_i δ(λ − λ_i).
    Each probe's weights sum to 1 and Σ_j weights_j nodes_j = qᵀHq.
    """

    nodes: torch.Tensor
    weights: torch.Tensor

    def moment_mean(self) -> TraceEstimate:
        """The density's mean per probe, qᵀHq, whose expectation is tr H / P."""
        return TraceEstimate.of((self.nodes * self.weights).sum(-1))

    def density(self, grid: torch.Tensor, sigma: float) -> torch.Tensor:
        """Gaussian-broadened density on ``grid`` (G,): (*lead, G), probe-averaged.

        φ(λ) = mean over probes of Σ_j w_j N(λ; θ_j, σ²); it integrates to 1
        over the real line.
        """
        z = (grid - self.nodes.unsqueeze(-1)) / sigma
        g = torch.exp(-0.5 * z**2) / (sigma * math.sqrt(2 * math.pi))
        return (self.weights.unsqueeze(-1) * g).sum(-2).mean(-2)


def lanczos(
    matmat: MatMat, start: torch.Tensor, steps: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lanczos tridiagonalisation with full reorthogonalisation, batched.

    ``start (*batch, P)``: the starting vectors (normalised here). Returns the
    diagonal α (*batch, m) and off-diagonal β (*batch, m − 1), m = min(steps, P).
    Every new vector is orthogonalised twice against all previous ones. Where
    β falls to round-off (an invariant subspace), β is set to 0 and the next
    vector is a random one orthogonal to the basis, so the tridiagonal matrix
    splits into blocks and the first block alone carries the quadrature weight.
    """
    n = start.shape[-1]
    m = min(steps, n)
    eps = torch.finfo(start.dtype).eps ** 0.5 * 1e-2
    q = start / torch.linalg.vector_norm(start, dim=-1, keepdim=True)
    basis = torch.zeros((*start.shape[:-1], m, n), dtype=start.dtype, device=start.device)
    alpha, beta = [], []

    for j in range(m):
        basis[..., j, :] = q
        w = matmat(q).detach()
        alpha.append((w * q).sum(-1))
        if j == m - 1:
            break
        scale = torch.linalg.vector_norm(w, dim=-1)
        w = _orthogonalise(w, basis[..., : j + 1, :])[0]
        b = torch.linalg.vector_norm(w, dim=-1)
        broke = b <= eps * scale.clamp_min(torch.finfo(start.dtype).tiny)
        fresh = torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device)
        fresh = _orthogonalise(fresh, basis[..., : j + 1, :])[0]
        w = torch.where(broke.unsqueeze(-1), fresh, w)
        q = w / torch.linalg.vector_norm(w, dim=-1, keepdim=True)
        beta.append(torch.where(broke, 0.0, b))
    empty = start.new_zeros((*start.shape[:-1], 0))
    return torch.stack(alpha, -1), torch.stack(beta, -1) if beta else empty


def slq(
    matmat: MatMat,
    shape: tuple[int, ...],
    probes: int,
    steps: int,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> Quadrature:
    """Stochastic Lanczos quadrature with ``probes`` Rademacher starts per replica.

    ``shape`` is (*lead, P); all replicas and probes run in lockstep through the
    batched matmat. Nodes are the eigenvalues θ_j of each Lanczos tridiagonal T,
    weights the squared first components of its eigenvectors.
    """
    *lead, n = shape
    gen = torch.Generator().manual_seed(seed)
    start = rademacher((*lead, probes, n), gen, dtype, device)
    alpha, beta = lanczos(matmat, start, steps, gen)
    t = torch.diag_embed(alpha) + torch.diag_embed(beta, 1) + torch.diag_embed(beta, -1)
    nodes, vecs = torch.linalg.eigh(t)
    return Quadrature(nodes, vecs[..., 0, :] ** 2)
