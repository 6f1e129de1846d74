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
- Dense: ``torch.func.hessian`` and ``eigh`` — the ground truth for small models.
- Trace: Hutchinson, E[zᵀHz] = tr H for Rademacher z; and from loss values only,
  E[δᵀHδ] = tr H for δ ~ N(0, I) with δᵀHδ from a central second difference.
- Spectral density: stochastic Lanczos quadrature (Lin, Saad & Yang 2016;
  Ghorbani, Krishnan & Xiao 2019) with full reorthogonalisation and Gaussian
  broadening; the density of eigenvalues normalised to integrate to 1.
- Gauss–Newton split H = G + R with G = Jᵀ ∇²ℓ J ⪰ 0 (Schraudolph 2002):
  negative curvature can only come from R.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
from torch.func import grad, hessian, jacrev, jvp, vjp, vmap

from statmech_nn.errors import InputError

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


def hessian_matmat(loss: Loss, theta: torch.Tensor) -> MatMat:
    """The Hessian of ``loss`` at every replica of ``theta (*lead, P)`` as a matmat.

    Returns ``V (*lead, B, P) -> H(θ_lead)·V``: one vmapped forward-over-reverse
    HVP over the B vectors and the replicas.
    """

    def one(th: torch.Tensor, vs: torch.Tensor) -> torch.Tensor:
        return vmap(lambda v: hvp(loss, th, v))(vs)

    fn = _over_lead(one, theta.dim() - 1)
    return lambda vs: fn(theta, vs)


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
    outputs: Callable[[torch.Tensor], torch.Tensor], output_loss: Loss, theta: torch.Tensor
) -> MatMat:
    """The Gauss–Newton matrix at every replica of ``theta (*lead, P)`` as a matmat."""

    def one(th: torch.Tensor, vs: torch.Tensor) -> torch.Tensor:
        return vmap(lambda v: ggn_vp(outputs, output_loss, th, v))(vs)

    fn = _over_lead(one, theta.dim() - 1)
    return lambda vs: fn(theta, vs)


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


def _refine(op: _Counted, vectors: np.ndarray, descending: bool) -> Eigenpairs:
    """Rayleigh quotients vᵀAv, residual norms ‖Av − λv‖ and sign-fixed unit vectors
    of the columns of ``vectors``, sorted by eigenvalue (NaN columns last)."""
    v = torch.from_numpy(np.ascontiguousarray(vectors.T)).to(op.dtype)
    v = v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    # fix the sign: the entry of largest magnitude is positive (deterministic output)
    pivot = v.gather(-1, v.abs().nan_to_num(-1.0).argmax(-1, keepdim=True))
    v = v * torch.where(pivot < 0, -1.0, 1.0).to(v.dtype)
    ok = torch.isfinite(v).all(-1)
    av = torch.full_like(v, torch.nan)
    if ok.any():
        av[ok] = op.apply(v[ok]).detach().to(v.dtype)
    values = (v * av).sum(-1)
    residuals = torch.linalg.vector_norm(av - values.unsqueeze(-1) * v, dim=-1)
    key = torch.where(ok, values if descending else -values, -torch.inf)
    order = torch.argsort(key, descending=True, stable=True)
    return Eigenpairs(values[order], v[order], residuals[order], op.count)


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
) -> Eigenpairs:
    """The ``k`` largest (``which="top"``, descending) or smallest (``"bottom"``,
    ascending) eigenpairs of a symmetric n×n matrix by Lanczos (``eigsh`` "LA"/"SA")."""
    _check_k(k, n)
    modes = {"top": "LA", "bottom": "SA"}
    if which not in modes:
        raise InputError(f"eigenpairs: which = {which!r}, expected one of {sorted(modes)}")
    op = _Counted(matmat, n, dtype, device)
    kw = {"tol": tol, "ncv": ncv, "maxiter": maxiter}
    _, vecs = _eigsh(op.operator(), k, modes[which], _start(n, seed), **kw)
    return _refine(op, vecs, descending=which == "top")


def negative_fraction(eigenvalues: torch.Tensor, tau: float) -> torch.Tensor:
    """Fraction of eigenvalues (…, P) below −τ·λmax, λmax the largest of each row."""
    lam_max = eigenvalues.max(-1, keepdim=True).values
    return (eigenvalues < -tau * lam_max).to(eigenvalues.dtype).mean(-1)


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

    def orthogonalise(w: torch.Tensor, upto: int) -> torch.Tensor:
        b = basis[..., :upto, :]
        for _ in range(2):
            w = w - torch.einsum("...k,...kp->...p", torch.einsum("...kp,...p->...k", b, w), b)
        return w

    for j in range(m):
        basis[..., j, :] = q
        w = matmat(q).detach()
        alpha.append((w * q).sum(-1))
        if j == m - 1:
            break
        scale = torch.linalg.vector_norm(w, dim=-1)
        w = orthogonalise(w, j + 1)
        b = torch.linalg.vector_norm(w, dim=-1)
        broke = b <= eps * scale.clamp_min(torch.finfo(start.dtype).tiny)
        fresh = orthogonalise(
            torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device), j + 1
        )
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
