"""Curvature of a loss over a flat parameter vector: eigenpairs, spectra, traces.

Everything here is a pure function of a *loss closure* ``loss(theta) -> scalar``
over a flat parameter vector ``theta`` (P,) — or of a *matmat*, a function
that applies a symmetric P×P matrix A to a batch of vectors,
``V (*lead, B, P) -> A·V (*lead, B, P)``. The leading dimensions ``*lead`` are
replicas: :func:`hessian_matmat` turns one loss closure and parameters
``theta (*lead, P)`` into the matmat of every replica's own Hessian, vmapped,
so R replicas × B probes cost one batched Hessian-vector product (HVP).

- HVP: forward-over-reverse, H·v = ∂/∂ε ∇L(θ + εv) at ε = 0 (``jvp`` of
  ``grad``; Pearlmutter 1994), the same product curvlinops uses.
- Extreme eigenpairs: Lanczos (ARPACK via :func:`scipy.sparse.linalg.eigsh`) for
  the largest-magnitude eigenvalue λ₁, then for the largest-magnitude eigenvalue
  μ of H − λ₁I; λ₁ + μ is the other end of the spectrum (THEORY.md).
- Top-k and bottom-k: thick-restart Lanczos with full reorthogonalisation, on
  the matmat's device; residual norms come from the Lanczos relation, so
  unlike ARPACK + explicit checks no product is spent after convergence.
- Dense: ``torch.func.hessian`` and ``eigh`` — the ground truth for small models.
- Trace: Hutchinson, E[zᵀHz] = tr H for Rademacher z; and from loss values only,
  E[δᵀHδ] = tr H for δ ~ N(0, I) with δᵀHδ from a central second difference.
- Spectral density: stochastic Lanczos quadrature (Lin, Saad & Yang 2016;
  Ghorbani, Krishnan & Xiao 2019) with full reorthogonalisation and Gaussian
  broadening; the density of eigenvalues normalised to integrate to 1.
- Gauss–Newton split H = G + R with G = Jᵀ ∇²ℓ J ⪰ 0 (Schraudolph 2002):
  negative curvature can only come from R.
"""

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
from torch.func import grad, hessian, jacrev, jvp, linearize, vjp, vmap

from statmech_nn.dims import EIGEN, PARAM, REPLICA
from statmech_nn.errors import InputError
from statmech_nn.io import labelled
from statmech_nn.losses import loss_units, per_sample_loss
from statmech_nn.nets import Network, input_shape_of, network_from_attrs
from statmech_nn.seeds import derive_seed
from statmech_nn.train import mean_loss, resolve_device

log = logging.getLogger("statmech_nn")
Loss = Callable[[torch.Tensor], torch.Tensor]
MatMat = Callable[[torch.Tensor], torch.Tensor]


def hvp(loss: Loss, theta: torch.Tensor, v: torch.Tensor):
    """H(θ)·v by forward-over-reverse differentiation (``jvp`` of ``grad``)."""
    return jvp(grad(loss), (theta,), (v,))[1]


def _over_lead(fn: Callable, n_lead: int) -> Callable:
    """``fn`` of one replica vmapped over ``n_lead`` leading replica dimensions."""
    for _ in range(n_lead):
        fn = vmap(fn)
    return fn


def _linearize(fn: Callable, theta: torch.Tensor) -> Callable:
    """``torch.func.linearize``'s jvp function, without torch.fx's constant-folding chatter."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Attempted to insert a get_attr Node", UserWarning)
        return linearize(fn, theta)[1]


def _summed(fn: Callable, n_lead: int) -> Callable:
    """Σ over replicas of a per-replica scalar ``fn``: its gradient with respect to
    ``theta (*lead, P)`` is every replica's own gradient, its Hessian block-diagonal."""
    batched = _over_lead(fn, n_lead)
    return lambda th: batched(th).sum()


HVP_MODES = ("linearize", "reverse", "fresh")


def hessian_matmat(loss: Loss, theta: torch.Tensor, mode: str = "linearize") -> MatMat:
    """The Hessian of ``loss`` at every replica of ``theta (*lead, P)`` as a matmat.

    Returns ``V (*lead, B, P) -> H(θ_lead)·V``, batched over the B vectors; the
    replicas are one block-diagonal product (the Hessian of the replica-summed
    loss). ``mode``, all exact to round-off (benchmarks/hessian.py times them):

    - ``"linearize"``: forward-over-reverse; ``torch.func.linearize`` traces the
      gradient's forward pass once (about a second) and each product then runs
      only the tangent pass;
    - ``"reverse"``: reverse-over-reverse on the gradient graph built once and
      retained (PyHessian's product); no tracing, so cheapest for few products;
    - ``"fresh"``: forward-over-reverse recomputing everything per product (:func:`hvp`).
    """
    total = _summed(loss, theta.dim() - 1)
    if mode == "reverse":
        return _retained_graph_hvp(total, theta)
    if mode == "linearize":
        tangent = _linearize(grad(total), theta)
    elif mode == "fresh":

        def tangent(v: torch.Tensor) -> torch.Tensor:
            return hvp(total, theta, v)

    else:
        raise InputError(f"HVP mode {mode!r}: expected one of {HVP_MODES}")
    return vmap(tangent, in_dims=-2, out_dims=-2)


def _retained_graph_hvp(total: Loss, theta: torch.Tensor) -> MatMat:
    """Products ∂(∇L·v)/∂θ by backpropagating through a retained gradient graph."""
    leaf = theta.detach().requires_grad_(True)
    with torch.enable_grad():
        g = torch.autograd.grad(total(leaf), leaf, create_graph=True)[0]

    def apply(vs: torch.Tensor) -> torch.Tensor:
        # one backward per vector: measured faster than is_grads_batched (a vmap over
        # the backward graph) from P = 3e3 to 1e6 parameters
        out = [torch.autograd.grad(g, leaf, v, retain_graph=True)[0] for v in vs.unbind(-2)]
        return torch.stack(out, dim=-2)

    return apply


def ggn_vp(
    outputs: Callable[[torch.Tensor], torch.Tensor],
    output_loss: Loss,
    theta: torch.Tensor,
    v: torch.Tensor,
) -> torch.Tensor:
    """Generalised Gauss–Newton product G·v = Jᵀ (∇²_f ℓ) J v.

    ``outputs(theta)`` are the network outputs f (any shape) and
    ``output_loss(f)`` the loss as a function of them, so that
    L(θ) = output_loss(outputs(θ)). J = ∂f/∂θ; G ⪰ 0 for a convex ``output_loss``
    (cross-entropy, squared error), and H = G + Σ (∂ℓ/∂f) ∇²f.
    """
    f, jv = jvp(outputs, (theta,), (v,))
    _, pullback = vjp(outputs, theta)
    return pullback(hvp(output_loss, f, jv))[0]


def ggn_matmat(
    outputs: Callable[[torch.Tensor], torch.Tensor],
    output_loss: Loss,
    theta: torch.Tensor,
    linearized: bool = True,
) -> MatMat:
    """The Gauss–Newton matrix at every replica of ``theta (*lead, P)`` as a matmat.

    J·v by ``linearize`` (or a fresh ``jvp``), Jᵀ·u by the ``vjp`` pullback of one
    forward pass, ∇²_f ℓ by an HVP in output space (cheap); vmapped over the B vectors.
    """
    n_lead = theta.dim() - 1
    out_fn, total = _over_lead(outputs, n_lead), _summed(output_loss, n_lead)
    f, pullback = vjp(out_fn, theta)
    if linearized:
        push = _linearize(out_fn, theta)
    else:

        def push(v: torch.Tensor) -> torch.Tensor:
            return jvp(out_fn, (theta,), (v,))[1]

    def one(v: torch.Tensor) -> torch.Tensor:
        return pullback(hvp(total, f, push(v)))[0]

    return vmap(one, in_dims=-2, out_dims=-2)


def dense_hessian(loss: Loss, theta: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
    """The full Hessian (*lead, P, P) by ``torch.func.hessian``, symmetrised.

    ``chunk_size`` bounds how many columns are built at once (memory): then the
    Jacobian of the gradient is taken in reverse mode, whose ``jacrev`` can chunk;
    ``None`` builds all P columns together (``hessian`` = ``jacfwd(jacrev)``).
    """
    fn = hessian(loss) if chunk_size is None else jacrev(grad(loss), chunk_size=chunk_size)
    h = _over_lead(fn, theta.dim() - 1)(theta)
    return 0.5 * (h + h.mT)


def dense_matrix(
    matmat: MatMat, lead: tuple[int, ...], n: int, chunk_size: int, dtype, device=None
):
    """The matrix (*lead, n, n) behind a symmetric matmat, ``chunk_size`` columns at a time."""
    cols = []
    for start in range(0, n, chunk_size):
        eye = torch.eye(n, dtype=dtype, device=device)[start : start + chunk_size]
        cols.append(matmat(eye.expand(*lead, *eye.shape)))
    a = torch.cat(cols, dim=-2)
    return 0.5 * (a + a.mT)


# --------------------------------------------------------------------------- eigenpairs


@dataclass(frozen=True)
class Eigenpairs:
    """Eigenvalues (k,), unit eigenvectors (k, P), residual norms ‖Av − λv‖ (k,)
    and the number of matrix-vector products (HVPs) spent, residual checks included."""

    values: torch.Tensor
    vectors: torch.Tensor
    residuals: torch.Tensor
    hvps: int


class _Counted:
    """A scipy LinearOperator over a single-replica matmat that counts products."""

    def __init__(self, matmat: MatMat, n: int, dtype: torch.dtype, device):
        self.matmat, self.n, self.dtype, self.device, self.count = matmat, n, dtype, device, 0

    def apply(self, vs: torch.Tensor) -> torch.Tensor:
        self.count += vs.shape[0]
        return self.matmat(vs.to(dtype=self.dtype, device=self.device))

    def operator(self, shift: float = 0.0) -> LinearOperator:
        def mm(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, dtype=np.float64).reshape(self.n, -1)
            out = self.apply(torch.from_numpy(np.ascontiguousarray(x.T)))
            return out.detach().cpu().double().numpy().T - shift * x

        return LinearOperator(
            (self.n, self.n), matvec=lambda x: mm(x)[:, 0], matmat=mm, dtype=np.float64
        )


def _start(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def _eigsh(op: LinearOperator, k: int, which: str, v0: np.ndarray, **kw):
    """Lanczos eigenvalues (k,) and eigenvectors (n, k); pairs ARPACK did not
    converge within ``maxiter`` restarts are NaN (reported, never dropped)."""
    try:
        return eigsh(op, k=k, which=which, v0=v0, **kw)
    except ArpackNoConvergence as err:
        vals, vecs = np.full(k, np.nan), np.full((op.shape[0], k), np.nan)
        vals[: len(err.eigenvalues)] = err.eigenvalues
        vecs[:, : err.eigenvectors.shape[1]] = err.eigenvectors
        return vals, vecs


def _ordered(values, vectors, residuals, hvps: int, descending: bool) -> Eigenpairs:
    """Eigenpairs with sign-fixed vectors (entry of largest magnitude positive: a
    deterministic output), sorted by eigenvalue (NaN pairs last)."""
    pivot = vectors.gather(-1, vectors.abs().nan_to_num(-1.0).argmax(-1, keepdim=True))
    vectors = vectors * torch.where(pivot < 0, -1.0, 1.0).to(vectors.dtype)
    key = torch.where(torch.isfinite(values), values if descending else -values, -torch.inf)
    order = torch.argsort(key, descending=True, stable=True)
    return Eigenpairs(values[order], vectors[order], residuals[order], hvps)


def _refine(op: _Counted, vectors: np.ndarray, descending: bool) -> Eigenpairs:
    """Rayleigh quotients vᵀAv, residual norms ‖Av − λv‖ and sign-fixed unit vectors
    of the columns of ``vectors``, sorted by eigenvalue (NaN columns last)."""
    v = torch.from_numpy(np.ascontiguousarray(vectors.T)).to(op.dtype)
    v = v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    ok = torch.isfinite(v).all(-1)
    av = torch.full_like(v, torch.nan)
    if ok.any():
        av[ok] = op.apply(v[ok]).detach().to(v.dtype)
    values = (v * av).sum(-1)
    residuals = torch.linalg.vector_norm(av - values.unsqueeze(-1) * v, dim=-1)
    return _ordered(values, v, residuals, op.count, descending)


def _check_k(k: int, n: int) -> None:
    if not 1 <= k < n:
        raise InputError(f"eigenpairs: k = {k} must be between 1 and P − 1 = {n - 1}")


def extreme_eigenpairs(
    matmat: MatMat,
    n: int,
    dtype: torch.dtype = torch.float64,
    *,
    tol: float = 1e-10,
    ncv: int | None = None,
    maxiter: int | None = None,
    seed: int = 0,
    device=None,
) -> Eigenpairs:
    """λmax and λmin of a symmetric n×n matrix with their eigenvectors, [max, min] order.

    Lanczos (``eigsh``, ``which="LM"``) gives the largest-magnitude eigenvalue λ₁;
    Lanczos on H − λ₁I gives its largest-magnitude eigenvalue μ, and λ₁ + μ is
    the other end of the spectrum: the most negative eigenvalue when λ₁ > 0,
    the most positive when λ₁ < 0 (|λmin| > λmax), the smallest when H is
    positive definite. The pair is ordered so values[0] ≥ values[1]. Eigenvalues
    are the Rayleigh quotients vᵀHv of the returned unit vectors (their error is
    quadratic in the vectors'); ``tol`` is ARPACK's relative tolerance on the Ritz
    values. ``matmat`` takes (B, n) — a single replica. A pair that does not
    converge within ``maxiter`` restarts comes back as NaN.
    """
    _check_k(1, n)
    op = _Counted(matmat, n, dtype, device)
    kw = {"tol": tol, "ncv": ncv, "maxiter": maxiter}
    lam1, v1 = _eigsh(op.operator(), 1, "LM", _start(n, seed), **kw)
    v2 = np.full_like(v1, np.nan)
    if np.isfinite(lam1).all():
        _, v2 = _eigsh(op.operator(shift=float(lam1[0])), 1, "LM", _start(n, seed + 1), **kw)
    return _refine(op, np.concatenate([v1, v2], axis=1), descending=True)


def eigenpairs(
    matmat: MatMat,
    n: int,
    k: int,
    which: str,
    dtype: torch.dtype = torch.float64,
    *,
    tol: float = 1e-10,
    ncv: int | None = None,
    maxiter: int | None = None,
    seed: int = 0,
    device=None,
    shift: float = 0.0,
) -> Eigenpairs:
    """The ``k`` largest (``which="top"``, descending) or smallest (``"bottom"``,
    ascending) eigenpairs of a symmetric n×n matrix by thick-restart Lanczos.

    The Krylov basis (``ncv`` vectors, default max(2k + 1, 20), ARPACK's) is
    kept orthonormal by full reorthogonalisation (twice, classical Gram–Schmidt)
    on the matmat's device. When it is full, the ``k + (ncv − k) // 2`` wanted
    Ritz vectors are kept and Lanczos goes on from the residual (Wu & Simon
    2000); at most ``maxiter`` such cycles. The Ritz values are the eigenvalues
    of the projected matrix Vᵀ A V and, because A V = V T + r eₘᵀ holds exactly
    in this basis, each Ritz pair's residual ‖Ay − θy‖ is ‖r‖·|eₘᵀs| with no
    further product; tests check it against explicit products. A pair has
    converged when that residual is ≤ ``tol``·|θ − shift|, ARPACK's criterion on
    A − shift·I: eigenvalues near 0 (an exactly singular Hessian) only converge
    when the shift moves them away from 0 — pass the other end of the spectrum
    (λmin for top, λmax for bottom). Convergence is checked after every product,
    so the run stops as soon as all ``k`` pairs have converged; pairs still
    unconverged after ``maxiter`` cycles are NaN. After a breakdown (an invariant
    Krylov space: exactly repeated eigenvalues) it goes on from fresh random
    vectors and tests only full bases, like ARPACK; a single-vector Krylov method
    sees an eigenvalue's multiplicity only through such restarts.
    """
    _check_k(k, n)
    if which not in ("top", "bottom"):
        raise InputError(f"eigenpairs: which = {which!r}, expected one of ['bottom', 'top']")
    op = _Counted(matmat, n, dtype, device)
    m = min(n, max(ncv or max(2 * k + 1, 20), k + 2))
    basis = torch.zeros(m + 1, n, dtype=dtype, device=device)
    basis[0] = torch.from_numpy(_start(n, seed)).to(basis)
    basis[0] /= torch.linalg.vector_norm(basis[0])
    proj = torch.zeros(m, m, dtype=torch.float64)  # upper triangle of Vᵀ A V, column by column
    gen = torch.Generator().manual_seed(derive_seed(seed, "lanczos-breakdown"))
    sign = 1.0 if which == "top" else -1.0
    kept, closed = 0, False
    for _ in range(maxiter or max(100, 10 * n)):
        for j in range(kept, m):
            w = op.apply(basis[j : j + 1])[0].detach().to(dtype)
            scale = torch.linalg.vector_norm(w)
            w, h = _orthogonalise(w, basis[: j + 1])
            proj[: j + 1, j] = h.cpu().double()
            beta = torch.linalg.vector_norm(w)
            broke = bool(beta <= 1e-12 * scale.clamp_min(torch.finfo(dtype).tiny)) and j + 1 < n
            closed |= broke
            if broke:
                # an invariant subspace: go on from a random vector orthogonal to it (its
                # Ritz pairs are exact, but need not be the wanted end of the spectrum)
                fresh = torch.randn(n, generator=gen, dtype=dtype).to(w)
                beta, w = beta.new_zeros(()), _orthogonalise(fresh, basis[: j + 1])[0]
            basis[j + 1] = w / torch.linalg.vector_norm(w) if j + 1 < n else 0.0
            theta, s = torch.linalg.eigh(proj[: j + 1, : j + 1], UPLO="U")
            order = torch.argsort(sign * theta, descending=True)
            theta, s = theta[order], s[:, order]
            res = float(beta) * s[-1].abs()
            done = res[:k] <= tol * (theta[:k] - shift).abs()
            # once a Krylov space has closed, a repeated eigenvalue may be missing copies
            # the next fresh vectors would find: then only a full basis is tested (ARPACK's way)
            checked = j == m - 1 or not closed
            if j + 1 >= k and checked and bool(done.all()) and not broke or j + 1 == n:
                return _ritz(op, basis[: j + 1], theta[:k], s[:, :k], res[:k], done, which)
        # restart: keep the wanted Ritz vectors, continue from the residual direction
        kept = min(k + (m - k) // 2, m - 1)
        basis[:kept] = s[:, :kept].T.to(basis) @ basis[:m]
        basis[kept] = basis[m]
        proj.zero_()
        proj[:kept, :kept] = torch.diag(theta[:kept])
    return _ritz(op, basis[:m], theta[:k], s[:, :k], res[:k], done, which)


def _ritz(op, basis, theta, s, residuals, done, which) -> Eigenpairs:
    """Ritz pairs (values, unit vectors V·s, residual norms); unconverged ones NaN."""
    vectors = s.T.to(basis) @ basis
    vectors = vectors / torch.linalg.vector_norm(vectors, dim=-1, keepdim=True)
    nan = torch.tensor(torch.nan, dtype=torch.float64)
    values = torch.where(done, theta, nan).to(op.dtype)
    residuals = torch.where(done, residuals, nan).to(op.dtype)
    vectors = torch.where(done.to(vectors.device).unsqueeze(-1), vectors, torch.nan)
    return _ordered(values, vectors.cpu(), residuals, op.count, which == "top")


def negative_fraction(eigenvalues: torch.Tensor, tau: float) -> torch.Tensor:
    """Fraction of eigenvalues (…, P) below −τ·λmax, λmax the largest of each row."""
    lam_max = eigenvalues.max(-1, keepdim=True).values
    return (eigenvalues < -tau * lam_max).to(eigenvalues.dtype).mean(-1)


def dense_eigenpairs(h: torch.Tensor, k: int) -> tuple[Eigenpairs, Eigenpairs, Eigenpairs]:
    """Extreme [max, min], top-k (descending) and bottom-k (ascending) eigenpairs of a
    dense symmetric matrix by ``eigh``, in the form :func:`extreme_eigenpairs` returns
    (residuals ‖hv − λv‖ from ``h``, sign-fixed vectors, no products counted)."""
    values, vectors = torch.linalg.eigh(h)
    vectors = vectors.T
    pivot = vectors.gather(-1, vectors.abs().argmax(-1, keepdim=True))
    vectors = vectors * torch.where(pivot < 0, -1.0, 1.0).to(vectors.dtype)

    def pick(idx: list[int]) -> Eigenpairs:
        v = vectors[idx]
        residuals = torch.linalg.vector_norm(v @ h - values[idx, None] * v, dim=-1)
        return Eigenpairs(values[idx], v, residuals, 0)

    n = len(values)
    return pick([n - 1, 0]), pick(list(range(n - 1, n - 1 - k, -1))), pick(list(range(k)))


# --------------------------------------------------------------------------- traces


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


# --------------------------------------------------------------------------- spectral density


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


def _orthogonalise(w: torch.Tensor, basis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``w (..., P)`` minus its projection on the orthonormal rows of ``basis (..., k, P)``,
    by classical Gram–Schmidt applied twice (twice is enough: Giraud et al. 2005), and
    the projection coefficients (..., k)."""
    coefficients = w.new_zeros(basis.shape[:-1])
    for _ in range(2):
        c = torch.einsum("...kp,...p->...k", basis, w)
        w = w - torch.einsum("...k,...kp->...p", c, basis)
        coefficients = coefficients + c
    return w, coefficients


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


# --------------------------------------------------------------------------- batching


def chunked(matmat: MatMat, chunk_size: int) -> MatMat:
    """``matmat`` applied to at most ``chunk_size`` vectors of the batch dim (−2) at a time."""

    def apply(vs: torch.Tensor) -> torch.Tensor:
        if vs.shape[-2] <= chunk_size:
            return matmat(vs)
        return torch.cat([matmat(c) for c in vs.split(chunk_size, dim=-2)], dim=-2)

    return apply


def hvp_batch_size(
    n_params: int, n_samples: int, widths: int, itemsize: int, memory_mb: float
) -> int:
    """How many HVPs fit in ``memory_mb`` at once (≥ 1).

    One vmapped forward-over-reverse HVP holds about six activation-sized
    tensors per sample and layer unit (primal, tangent, cotangent and its
    tangent, activation derivatives) plus four parameter-sized ones; ``widths``
    is the network's activations per sample.
    """
    per_vector = itemsize * (6 * n_samples * widths + 4 * n_params)
    return max(1, int(memory_mb * 2**20 // per_vector))


# --------------------------------------------------------------------------- the study

COMPUTATIONS = (
    "extreme",
    "top_k",
    "bottom_k",
    "hutchinson",
    "slq",
    "dense",
    "ggn_extreme",
    "ggn_hutchinson",
)
WHICH = ("max", "min")
_RANK = {"long_name": "signed rank: +i the i-th largest, -i the i-th smallest", "units": "1"}
_R, _W = (REPLICA,), (REPLICA, "which")
# name -> (dims, long_name, units: "L" the loss's unit, "1/L" its inverse, "1")
VARIABLES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "lambda_extreme": (_W, "extreme Hessian eigenvalue (max, min)", "L"),
    "residual_extreme": (_W, "residual norm |Hv - lambda v| of lambda_extreme", "L"),
    "eigenvectors": ((*_W, PARAM), "unit eigenvector of lambda_extreme", "1"),
    "eigenvalues": ((REPLICA, EIGEN), "top-k and bottom-k Hessian eigenvalues", "L"),
    "residuals": ((REPLICA, EIGEN), "residual norm |Hv - lambda v| of eigenvalues", "L"),
    "trace_hutchinson": (_R, "tr H by Hutchinson's estimator (Rademacher probes)", "L"),
    "trace_hutchinson_stderr": (_R, "standard error of trace_hutchinson", "L"),
    "trace_loss_values": (_R, "tr H from loss values (second differences, Gaussian)", "L"),
    "trace_loss_values_stderr": (_R, "standard error of trace_loss_values", "L"),
    "mean_curvature": (_R, "mean curvature tr H / P (Hutchinson)", "L"),
    "mean_curvature_stderr": (_R, "standard error of mean_curvature", "L"),
    "density": ((REPLICA, "lambda"), "eigenvalue density (SLQ, Gaussian broadening)", "1/L"),
    "slq_nodes": ((REPLICA, "probe", "node"), "Lanczos Ritz values (SLQ nodes)", "L"),
    "slq_weights": ((REPLICA, "probe", "node"), "Gauss quadrature weights (SLQ)", "1"),
    "slq_mean": (_R, "mean of the SLQ density (estimates tr H / P)", "L"),
    "slq_mean_stderr": (_R, "standard error of slq_mean", "L"),
    "negative_fraction_slq": (_R, "fraction of eigenvalues below -tau lambda_max (SLQ)", "1"),
    "dense_eigenvalues": ((REPLICA, "eigen_index"), "Hessian eigenvalues (dense), ascending", "L"),
    "trace_dense": (_R, "tr H (dense)", "L"),
    "negative_fraction": (_R, "fraction of eigenvalues below -tau lambda_max (dense)", "1"),
    "ggn_lambda_extreme": (_W, "extreme Gauss-Newton eigenvalue (max, min)", "L"),
    "ggn_residual_extreme": (_W, "residual norm |Gv - lambda v| of ggn_lambda_extreme", "L"),
    "ggn_trace_hutchinson": (_R, "tr G by Hutchinson's estimator (Rademacher probes)", "L"),
    "ggn_trace_hutchinson_stderr": (_R, "standard error of ggn_trace_hutchinson", "L"),
    "hvp_count": ((REPLICA, "computation"), "Hessian- or Gauss-Newton-vector products", "1"),
}


@dataclass(frozen=True)
class LossProblem:
    """A model's training loss on fixed data, as the closures the estimators take."""

    model: Network
    x: torch.Tensor
    y: torch.Tensor
    loss: str

    def loss_fn(self, theta: torch.Tensor) -> torch.Tensor:
        return mean_loss(self.model, theta, self.x, self.y, self.loss)

    def outputs(self, theta: torch.Tensor) -> torch.Tensor:
        return self.model.forward(theta, self.x)

    def output_loss(self, f: torch.Tensor) -> torch.Tensor:
        return per_sample_loss(f, self.y, self.loss).mean(-1)

    def hessian(self, theta: torch.Tensor, mode: str = "linearize") -> MatMat:
        return hessian_matmat(self.loss_fn, theta, mode)

    def ggn(self, theta: torch.Tensor, mode: str = "linearize") -> MatMat:
        """G·V; J·v traced once by ``linearize`` only in that mode (else a fresh ``jvp``)."""
        return ggn_matmat(self.outputs, self.output_loss, theta, mode == "linearize")

    def batch_size(self, memory_mb: float, itemsize: int) -> int:
        widths = self.model.activations_per_sample
        return hvp_batch_size(self.model.n_params, len(self.y), widths, itemsize, memory_mb)


def training_subset(data: xr.Dataset, samples: int | None, seed: int) -> tuple[np.ndarray, ...]:
    """The training set, or a fixed random subset of ``samples`` of it (sorted indices)."""
    x, y = data["x_train"].values, data["y_train"].values
    if samples is None or samples >= len(y):
        return x, y
    gen = torch.Generator().manual_seed(derive_seed(seed, "samples"))
    idx = torch.randperm(len(y), generator=gen)[:samples].sort().values.numpy()
    return x[idx], y[idx]


def eigenpairs_per_replica(
    problem: LossProblem,
    theta: torch.Tensor,
    cfg: dict,
    seeds: list[int],
    dense: torch.Tensor | None = None,
) -> dict[str, np.ndarray]:
    """Extreme, top-k and bottom-k eigenpairs of H (and G's extremes) for each row of ``theta``.

    From the dense Hessians ``dense (R, P, P)`` when given (exact, and the only
    way through an exactly singular end such as a linear model's null space);
    otherwise by Lanczos. ARPACK drives a single operator, so this is a loop over
    replicas (R small); products as ``cfg["hvp"]`` says (:func:`hessian_matmat`).
    """
    n, (r_count, dtype) = problem.model.n_params, (theta.shape[0], theta.dtype)
    k = min(cfg["k"], n - 1)
    kw = {"tol": cfg["tol"], "ncv": cfg["ncv"], "maxiter": cfg["maxiter"], "device": theta.device}
    out = {
        "lambda_extreme": np.full((r_count, 2), np.nan),
        "residual_extreme": np.full((r_count, 2), np.nan),
        "eigenvectors": np.full((r_count, 2, n), np.nan),
        "eigenvalues": np.full((r_count, 2 * k), np.nan),
        "residuals": np.full((r_count, 2 * k), np.nan),
        "hvps": np.zeros((r_count, 4), dtype=np.int64),  # extreme, top, bottom, ggn
    }
    ggn_kw = kw | {"tol": cfg["ggn_tol"]}
    if cfg["ggn"]:
        out |= {"ggn_lambda_extreme": np.full((r_count, 2), np.nan)}
        out |= {"ggn_residual_extreme": np.full((r_count, 2), np.nan)}
    for i, seed in enumerate(seeds):
        start = time.perf_counter()
        if dense is not None:
            ext, top, bottom = dense_eigenpairs(dense[i], k)
        else:
            h = problem.hessian(theta[i], cfg["hvp"])
            ext = extreme_eigenpairs(h, n, dtype, seed=seed, **kw)
            lam_max, lam_min = np.nan_to_num(ext.values.tolist())  # NaN (unconverged): no shift
            top = eigenpairs(h, n, k, "top", dtype, seed=seed + 2, shift=lam_min, **kw)
            bottom = eigenpairs(h, n, k, "bottom", dtype, seed=seed + 3, shift=lam_max, **kw)
        out["lambda_extreme"][i], out["residual_extreme"][i] = ext.values, ext.residuals
        out["eigenvectors"][i] = ext.vectors.cpu()
        out["eigenvalues"][i] = torch.cat([top.values, bottom.values]).cpu()
        out["residuals"][i] = torch.cat([top.residuals, bottom.residuals]).cpu()
        out["hvps"][i, :3] = ext.hvps, top.hvps, bottom.hvps
        if cfg["ggn"]:
            gmat = problem.ggn(theta[i], cfg["hvp"])
            g = extreme_eigenpairs(gmat, n, dtype, seed=seed + 4, **ggn_kw)
            out["ggn_lambda_extreme"][i], out["ggn_residual_extreme"][i] = g.values, g.residuals
            out["hvps"][i, 3] = g.hvps
        log.info(
            "replica %d: lambda = %s, %s HVPs, %.1f s",
            i, ext.values.tolist(), out["hvps"][i].tolist(), time.perf_counter() - start,
        )  # fmt: skip
    return out


def stochastic_estimates(
    problem: LossProblem, theta: torch.Tensor, cfg: dict, seed: int, extremes: np.ndarray
) -> tuple[dict[str, torch.Tensor], torch.Tensor, float]:
    """Traces, SLQ densities (and tr G) of every replica of ``theta (R, P)`` at once.

    The density grid spans the replicas' extreme eigenvalues (``extremes (R, 2)``,
    or the SLQ nodes where those are NaN) ± 5σ, σ = ``density_sigma`` × that span.
    Returns the estimates, the grid and σ.
    """
    (r_count, n), dtype, dev = theta.shape, theta.dtype, theta.device
    batch = problem.batch_size(cfg["memory_mb"], theta.element_size())
    per_replica = max(1, batch // r_count)
    hmat = chunked(problem.hessian(theta, cfg["hvp"]), per_replica)
    kw = {"seed": seed, "dtype": dtype, "device": dev}
    probes = cfg["trace_probes"]
    clock = _Clock()
    hutch = hutchinson_trace(hmat, (r_count, n), probes, chunk_size=per_replica, **kw)
    clock.lap("Hutchinson trace")
    by_loss = loss_value_trace(problem.loss_fn, theta, probes, cfg["fd_step"], seed=seed)
    clock.lap("loss-value trace")
    quad = slq(hmat, (r_count, n), cfg["slq_probes"], cfg["slq_steps"], **kw)
    clock.lap("SLQ")
    lo = np.nanmin(np.r_[extremes[:, 1], quad.nodes.min().item()])
    hi = np.nanmax(np.r_[extremes[:, 0], quad.nodes.max().item()])
    sigma = cfg["density_sigma"] * max(hi - lo, np.finfo(float).eps)
    grid = torch.linspace(lo - 5 * sigma, hi + 5 * sigma, cfg["density_points"], dtype=dtype)
    mean = quad.moment_mean()
    below = quad.nodes < -cfg["tau"] * quad.nodes.amax((-2, -1), keepdim=True)
    out = {
        "trace_hutchinson": hutch.mean,
        "trace_hutchinson_stderr": hutch.stderr,
        "trace_loss_values": by_loss.mean,
        "trace_loss_values_stderr": by_loss.stderr,
        "mean_curvature": hutch.mean / n,
        "mean_curvature_stderr": hutch.stderr / n,
        "density": quad.density(grid.to(dev), sigma),
        "slq_nodes": quad.nodes,
        "slq_weights": quad.weights,
        "slq_mean": mean.mean,
        "slq_mean_stderr": mean.stderr,
        "negative_fraction_slq": (quad.weights * below).sum(-1).mean(-1),
    }
    if cfg["ggn"]:
        gmat = chunked(problem.ggn(theta, cfg["hvp"]), per_replica)
        g = hutchinson_trace(gmat, (r_count, n), probes, chunk_size=per_replica, **kw)
        out |= {"ggn_trace_hutchinson": g.mean, "ggn_trace_hutchinson_stderr": g.stderr}
        clock.lap("Gauss-Newton trace")
    return out, grid, sigma


class _Clock:
    """Logs the wall time of each stage (the rule's log shows where time goes)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        log.info("%s: %.1f s", what, now - self.last)
        self.last = now


def hessian_study(
    data: xr.Dataset, trained: xr.Dataset, cfg: dict, seed: int, device: str = "cpu"
) -> xr.Dataset:
    """Curvature of the training loss at every healthy replica's final parameters.

    ``data`` holds ``x_train``/``y_train``, ``trained`` the ``params (replica,
    param)``, ``status`` and attrs ``arch``/``loss`` of the train stage; ``cfg``
    is the config's ``hessian`` section; its first ``cfg["replicas"]`` replicas
    (all when None) are analysed. Variables are listed in :data:`VARIABLES`;
    diverged replicas get NaN (and zero HVP counts).
    """
    dev, dtype = resolve_device(device), getattr(torch, cfg["dtype"])
    trained = trained.isel({REPLICA: slice(0, cfg["replicas"])})
    x, y = training_subset(data, cfg["samples"], seed)
    model = network_from_attrs(
        trained.attrs, input_shape_of(data.attrs, x.shape[1]), int(data.attrs["n_classes"])
    )
    problem = LossProblem(
        model,
        torch.as_tensor(x).to(dev, dtype),
        torch.as_tensor(y).to(dev, torch.long),
        trained.attrs["loss"],
    )
    n, n_rep = model.n_params, trained.sizes[REPLICA]
    ok = np.flatnonzero(trained["status"].values == "ok")
    theta = torch.as_tensor(trained["params"].values[ok]).to(dev, dtype)
    seeds = [derive_seed(seed, "replica", int(r)) % 2**31 for r in ok]

    dense = None
    if n <= cfg["dense_max_params"]:
        clock = _Clock()
        chunk = max(1, problem.batch_size(cfg["memory_mb"], theta.element_size()) // len(ok))
        dense = dense_hessian(problem.loss_fn, theta, chunk_size=chunk)
        spectrum = torch.linalg.eigvalsh(dense)
        clock.lap("dense Hessians and spectra")
    results: dict[str, object] = eigenpairs_per_replica(problem, theta, cfg, seeds, dense)
    lanczos_hvps = results.pop("hvps")
    estimates, grid, sigma = stochastic_estimates(
        problem, theta, cfg, seed, results["lambda_extreme"]
    )
    if dense is not None:
        estimates |= {
            "dense_eigenvalues": spectrum,
            "trace_dense": spectrum.sum(-1),
            "negative_fraction": negative_fraction(spectrum, cfg["tau"]),
        }
    results |= {k: v.detach().cpu().numpy() for k, v in estimates.items()}

    hvps = np.zeros((len(ok), len(COMPUTATIONS)), dtype=np.int64)
    hvps[:, [0, 1, 2, 6]] = lanczos_hvps
    hvps[:, 3] = cfg["trace_probes"]
    hvps[:, 4] = cfg["slq_probes"] * estimates["slq_nodes"].shape[-1]
    hvps[:, 5] = n if "dense_eigenvalues" in estimates else 0
    hvps[:, 7] = cfg["trace_probes"] if cfg["ggn"] else 0
    results["hvp_count"] = hvps

    unit = loss_units(problem.loss)
    units = {"L": unit, "1/L": "1" if unit == "1" else f"1/{unit}", "1": "1"}
    variables = {}
    for name, values in results.items():
        dims, long_name, u = VARIABLES[name]
        fill = 0 if values.dtype.kind == "i" else np.nan
        full = np.full((n_rep, *values.shape[1:]), fill, dtype=values.dtype)
        full[ok] = values
        variables[name] = labelled(full, dims, long_name, units[u])
    variables["status"] = labelled(trained["status"].values, (REPLICA,), "training outcome")
    k = results["eigenvalues"].shape[-1] // 2
    coords = {
        REPLICA: trained[REPLICA].values,
        "which": np.array(WHICH, dtype=object),
        EIGEN: ((EIGEN,), np.r_[np.arange(1, k + 1), -np.arange(1, k + 1)], _RANK),
        PARAM: np.arange(n),
        "param_tensor": (PARAM, np.array(model.param_tensor, dtype=object)),
        "lambda": ("lambda", grid.numpy(), {"long_name": "eigenvalue", "units": unit}),
        "computation": np.array(COMPUTATIONS, dtype=object),
        "probe": np.arange(results["slq_nodes"].shape[1]),
        "node": np.arange(results["slq_nodes"].shape[2]),
    }
    if "dense_eigenvalues" in results:
        coords["eigen_index"] = np.arange(n)
    return xr.Dataset(
        variables,
        coords=coords,
        attrs={
            **model.describe(),
            "dataset": trained.attrs.get("dataset", ""),
            "loss": problem.loss,
            "n_samples": len(y),
            "dtype": cfg["dtype"],
            "tau": cfg["tau"],
            "density_sigma": sigma,
            "eigenpairs_from": "lanczos" if dense is None else "dense eigh",
        },
    )
