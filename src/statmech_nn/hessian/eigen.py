"""Eigenpairs of a symmetric matmat: extreme pair, top-k and bottom-k by Lanczos, dense.

- Extreme: Lanczos (ARPACK via :func:`scipy.sparse.linalg.eigsh`) for the
  largest-magnitude eigenvalue λ₁, then for the largest-magnitude eigenvalue μ
  of H − λ₁I; λ₁ + μ is the other end of the spectrum (THEORY.md).
- Top-k and bottom-k: thick-restart Lanczos (Wu & Simon 2000) with full
  reorthogonalisation on the matmat's device; residual norms come from the
  Lanczos relation, so no product is spent after convergence.
- Dense: ``eigh``, the reference every iterative method is tested against.
"""

from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from statmech_nn.errors import InputError
from statmech_nn.hessian.operators import MatMat
from statmech_nn.seeds import derive_seed


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
