"""A synthetic loss with a known Hessian spectrum (Böttcher & Wheeler, J. Stat. Mech. 2024, §4).

With x = Qᵀ(θ − θ*) the coordinates in a fixed orthonormal basis Q,

    L(θ) = ½ Σᵢ λᵢ xᵢ² + (γ/4) Σᵢ xᵢ⁴,

whose Hessian at θ* is exactly H = Q diag(λ) Qᵀ for every γ (the quartic term
has zero second derivative at x = 0). γ = 0 is the quadratic saddle; γ > 0 the
non-quadratic variant, bounded below, whose negative directions are double
wells. For Gaussian δ ~ N(0, I_N), δᵀHδ = Σᵢ λᵢ zᵢ² with z ~ N(0, I_N) (Q is
orthogonal), so the probability that a random direction shows negative
curvature is P(Σᵢ λᵢ zᵢ² < 0), computed here by Imhof's (1961) inversion of
the characteristic function, a one-dimensional quadrature. A random plane
shows negative curvature when H restricted to it is not positive definite; its
probability (:func:`plane_negative_probability`) is a Monte Carlo average over
one direction of an exact Imhof-type quadrature over the other.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import integrate


@dataclass(frozen=True)
class SyntheticSaddle:
    """L(θ) = ½ xᵀ diag(λ) x + (γ/4) Σ xᵢ⁴ with x = Qᵀ(θ − θ*); see the module docstring.

    ``eigenvalues (N,)`` ascending, ``basis (N, N)`` orthogonal (columns are the
    Hessian's eigenvectors at θ*), ``centre (N,)`` = θ*, ``quartic`` = γ ≥ 0.
    """

    eigenvalues: torch.Tensor
    basis: torch.Tensor
    centre: torch.Tensor
    quartic: float = 0.0

    @property
    def n_params(self) -> int:
        return self.eigenvalues.numel()

    @property
    def trace(self) -> float:
        """tr H at θ*, exactly Σᵢ λᵢ."""
        return float(self.eigenvalues.sum())

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """L at every θ (..., N): shape (...)."""
        x = (theta - self.centre) @ self.basis
        out = 0.5 * (self.eigenvalues * x * x).sum(-1)
        if self.quartic:
            out = out + 0.25 * self.quartic * (x**4).sum(-1)
        return out

    def matmat(self, v: torch.Tensor) -> torch.Tensor:
        """H(θ*)·v for vectors v (..., N), by the factors (two N × N products)."""
        return ((v @ self.basis) * self.eigenvalues) @ self.basis.T

    def hessian(self) -> torch.Tensor:
        """The dense Hessian Q diag(λ) Qᵀ at θ* (N, N)."""
        return (self.basis * self.eigenvalues) @ self.basis.T

    def eigenvector(self, which: str) -> torch.Tensor:
        """The unit eigenvector (N,) of λmax (``"max"``) or λmin (``"min"``)."""
        return self.basis[:, -1 if which == "max" else 0]


def saddle_spectrum(
    n_params: int,
    n_negative: int,
    negative: tuple[float, float],
    positive: tuple[float, float],
) -> torch.Tensor:
    """Eigenvalues (N,), ascending: ``n_negative`` evenly spaced in ``negative`` = (low, high)
    and N − n_negative evenly spaced in ``positive`` (float64; a deterministic spectrum)."""
    if not 0 <= n_negative <= n_params:
        raise ValueError(f"n_negative {n_negative}: expected 0..{n_params}")
    neg = torch.linspace(*negative, n_negative, dtype=torch.float64)
    pos = torch.linspace(*positive, n_params - n_negative, dtype=torch.float64)
    return torch.sort(torch.cat([neg, pos])).values


def random_basis(n: int, seed: int) -> torch.Tensor:
    """A Haar-random orthogonal matrix (N, N): QR of a Gaussian matrix with R's diagonal
    made positive (Mezzadri 2007), float64."""
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def make_saddle(
    n_params: int,
    n_negative: int,
    negative: tuple[float, float],
    positive: tuple[float, float],
    quartic: float = 0.0,
    seed: int = 0,
) -> SyntheticSaddle:
    """The saddle of :func:`saddle_spectrum` in a random basis, centred at θ* = 0."""
    lam = saddle_spectrum(n_params, n_negative, negative, positive)
    basis = random_basis(n_params, seed)
    return SyntheticSaddle(lam, basis, torch.zeros(n_params, dtype=torch.float64), quartic)


def negative_probability(eigenvalues: np.ndarray | torch.Tensor, x: float = 0.0) -> float:
    """P(Σᵢ λᵢ zᵢ² < x) for independent standard normal zᵢ, by Imhof's formula.

    P(Q > x) = ½ + (1/π) ∫₀^∞ sin θ(u) / (u ρ(u)) du with
    θ(u) = ½ Σ arctan(λᵢu) − ½xu and ρ(u) = Πᵢ (1 + λᵢ²u²)^{1/4}
    (Imhof, Biometrika 48, 419, 1961). The integrand is evaluated in log space
    for ρ and integrated by adaptive Gauss–Kronrod quadrature to ~1e-10.
    """
    lam = np.asarray(eigenvalues.cpu() if hasattr(eigenvalues, "cpu") else eigenvalues, float)
    lam = lam[lam != 0]
    if lam.size == 0:
        return 0.0 if x <= 0 else 1.0
    scale = 1.0 / math.sqrt(float(np.sum(lam**2)))  # u ~ 1/‖λ‖ sets the integrand's width

    def integrand(t: float) -> float:
        if t == 0.0:
            return 0.5 * float(lam.sum()) * scale - 0.5 * x * scale
        u = t * scale
        theta = 0.5 * np.arctan(lam * u).sum() - 0.5 * x * u
        log_rho = 0.25 * np.log1p((lam * u) ** 2).sum()
        return math.sin(theta) * math.exp(-log_rho) / t

    value, _ = integrate.quad(integrand, 0.0, np.inf, limit=1000, epsabs=1e-11, epsrel=1e-10)
    return 0.5 - value / math.pi


def plane_negative_probability(
    eigenvalues: np.ndarray | torch.Tensor, samples: int = 256, seed: int = 0
) -> tuple[float, float]:
    """P(H restricted to a uniformly random 2-plane is not positive definite), ± its error.

    The plane is span(u, v) with u, v ~ N(0, I_N) in H's eigenbasis (a Gaussian pair
    spans a uniformly random plane, and definiteness does not depend on the basis
    of the plane). The restriction is positive definite iff a = uᵀΛu > 0 and the
    Schur complement vᵀH_u v > 0, H_u = Λ − w wᵀ/a with w = Λu. Given u, vᵀH_u v is
    a Gaussian quadratic form with characteristic function
    φ(t) = det(I − 2itΛ)^(−½) · (1 + (2it/a) Σⱼ wⱼ²/(1 − 2itλⱼ))^(−½)
    (matrix determinant lemma), so P(vᵀH_u v > 0 | u) = ½ + (1/π) ∫₀^∞ Im φ(t)/t dt
    (Gil-Pelaez 1951) is a one-dimensional quadrature; it is averaged over ``samples``
    seeded draws of u (Rao–Blackwellised Monte Carlo). Returns (probability, standard
    error of that average).
    """
    lam = np.asarray(eigenvalues.cpu() if hasattr(eigenvalues, "cpu") else eigenvalues, float)
    scale = 1.0 / math.sqrt(float(np.sum(lam**2)))
    rng = np.random.default_rng(seed)
    positive = np.zeros(samples)
    for i in range(samples):
        u = rng.standard_normal(lam.size)
        a = float(np.sum(lam * u * u))
        if a <= 0.0:
            continue
        w2 = (lam * u) ** 2
        mean = float(lam.sum() - w2.sum() / a)  # E[vᵀH_u v | u] = tr H_u, the limit at t = 0

        def integrand(x: float, w2=w2, a=a, mean=mean) -> float:
            if x == 0.0:
                return mean * scale
            t = x * scale
            one = 1.0 - 2j * t * lam
            # the rank-one factor's argument stays in [0, π) (interlacing), so principal logs add
            log_det = np.log(one).sum() + np.log(1.0 + (2j * t / a) * np.sum(w2 / one))
            return float(np.exp(-0.5 * log_det).imag) / x

        value, _ = integrate.quad(integrand, 0.0, np.inf, limit=1000, epsabs=1e-10, epsrel=1e-9)
        positive[i] = 0.5 + value / math.pi
    p = 1.0 - positive
    return float(p.mean()), float(p.std(ddof=1) / math.sqrt(samples))


def binomial_stderr(p: float, n: int) -> float:
    """Standard error √(p(1 − p)/n) of a fraction of n Bernoulli(p) trials."""
    return math.sqrt(p * (1.0 - p) / n)


def plane_losses(
    loss_fn,
    centre: torch.Tensor,
    d1: torch.Tensor,
    d2: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
) -> torch.Tensor:
    """L(θ* + aᵢ d1 + bⱼ d2) on the grid a (n,) × b (m,): shape (n, m). ``d1``, ``d2`` (N,)."""
    points = centre + a[:, None, None] * d1 + b[None, :, None] * d2
    return loss_fn(points)
