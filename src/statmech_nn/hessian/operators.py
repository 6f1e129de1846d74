"""Curvature operators of a loss over flat parameters: HVPs, Gauss–Newton products, dense Hessians.

A *loss closure* maps θ (P,) to a scalar; a *matmat* applies a symmetric P×P
matrix to a batch of vectors, ``V (*lead, B, P) -> A·V``, the leading
dimensions being replicas (one block-diagonal product, vmapped).

- HVP: forward-over-reverse, H·v = ∂/∂ε ∇L(θ + εv) at ε = 0 (``jvp`` of
  ``grad``; Pearlmutter 1994), the product curvlinops uses.
- Gauss–Newton: H = G + R with G = Jᵀ ∇²ℓ J ⪰ 0 (Schraudolph 2002);
  negative curvature can only come from R.
- Dense: ``torch.func.hessian``, the ground truth for small models.

Data in chunks: for a mean loss L = Σ_c (n_c/n) L_c over sample chunks c,
H·V = Σ_c (n_c/n) H_c·V (and G likewise); :func:`data_chunked` builds each
chunk's product afresh per call, so only one chunk's activations are alive at a
time and memory is set by the chunk (:func:`hvp_sample_chunk`), not by n.

An operator may take an ``aux`` tensor (*lead, B) carried along with θ's replicas
(the loss is then ``loss(θ, aux)``): constants of each replica such as BatchNorm
running statistics, which are not differentiated.
"""

import warnings
from collections.abc import Callable, Sequence

import torch
from torch.func import grad, hessian, jacrev, jvp, linearize, vjp, vmap

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


def _linearize(fn: Callable, theta: torch.Tensor) -> Callable:
    """``torch.func.linearize``'s jvp function, without torch.fx's constant-folding chatter."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Attempted to insert a get_attr Node", UserWarning)
        return linearize(fn, theta)[1]


def _summed(fn: Callable, n_lead: int, aux: torch.Tensor | None = None) -> Callable:
    """Σ over replicas of a per-replica scalar ``fn``: its gradient with respect to
    ``theta (*lead, P)`` is every replica's own gradient, its Hessian block-diagonal.
    With ``aux`` (*lead, B), ``fn(θ_r, aux_r)`` per replica."""
    batched = _over_lead(fn, n_lead)
    if aux is None:
        return lambda th: batched(th).sum()
    return lambda th: batched(th, aux).sum()


HVP_MODES = ("linearize", "reverse", "fresh")


def hessian_matmat(
    loss: Loss, theta: torch.Tensor, mode: str = "linearize", aux: torch.Tensor | None = None
) -> MatMat:
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

    ``aux`` (*lead, B): a constant per replica passed as ``loss(θ, aux)``.
    """
    total = _summed(loss, theta.dim() - 1, aux)
    if mode == "reverse":
        return retained_graph_matmat(total, theta)
    if mode == "linearize":
        return _vector_major(_linearize(grad(total), theta))
    if mode == "fresh":

        def tangent(v: torch.Tensor) -> torch.Tensor:
            return hvp(total, theta, v)

    else:
        raise InputError(f"HVP mode {mode!r}: expected one of {HVP_MODES}")
    return vmap(tangent, in_dims=-2, out_dims=-2)


def _vector_major(tangent: Callable) -> MatMat:
    """The traced tangent function of ``linearize`` as a matmat ``V (*lead, B, P)``: the B
    vectors vmapped at once, or one after another where vmap cannot replay the trace.

    torch's vmap fails on some graphs ``torch.func.linearize`` traces ("view size is not
    compatible with input tensor's size and stride": a recorded ``view`` of a tensor whose
    vmapped batch dim is not outermost, as the gradients of grouped convolutions are,
    torch 2.4–2.13); the products then loop over the vectors, each one tangent pass of
    the same trace (tests/test_cnn_fast.py pins both against reverse mode).
    """
    batched = vmap(tangent)
    one_by_one = False

    def apply(vs: torch.Tensor) -> torch.Tensor:
        nonlocal one_by_one
        front = vs.movedim(-2, 0)
        if not one_by_one:
            try:
                return batched(front).movedim(0, -2)
            except RuntimeError as err:
                if "view size is not compatible" not in str(err):
                    raise
                one_by_one = True
        return torch.stack([tangent(v) for v in front.unbind(0)], dim=-2)

    return apply


def retained_graph_matmat(total: Loss, theta: torch.Tensor) -> MatMat:
    """Products ∂(∇L·v)/∂θ by backpropagating through a retained gradient graph.

    ``total`` maps θ (*lead, P) to one scalar (the replica-summed loss); ``V (*lead, B, P)``.
    By ``torch.autograd`` alone: no torch.func transform, so no ~2 s import of torch's
    compiler stack in a process that needs none."""
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
    aux: torch.Tensor | None = None,
) -> MatMat:
    """The Gauss–Newton matrix at every replica of ``theta (*lead, P)`` as a matmat.

    J·v by ``linearize`` (or a fresh ``jvp``), Jᵀ·u by the ``vjp`` pullback of one
    forward pass, ∇²_f ℓ by an HVP in output space (cheap); vmapped over the B vectors.
    ``aux`` (*lead, B): a constant per replica passed as ``outputs(θ, aux)``.
    """
    n_lead = theta.dim() - 1
    batched, total = _over_lead(outputs, n_lead), _summed(output_loss, n_lead)

    def out_fn(th: torch.Tensor) -> torch.Tensor:
        return batched(th) if aux is None else batched(th, aux)

    f, pullback = vjp(out_fn, theta)
    if linearized:
        push = _linearize(out_fn, theta)
    else:

        def push(v: torch.Tensor) -> torch.Tensor:
            return jvp(out_fn, (theta,), (v,))[1]

    def one(v: torch.Tensor) -> torch.Tensor:
        return pullback(hvp(total, f, push(v)))[0]

    return vmap(one, in_dims=-2, out_dims=-2)


def dense_hessian(
    loss: Loss,
    theta: torch.Tensor,
    chunk_size: int | None = None,
    aux: torch.Tensor | None = None,
) -> torch.Tensor:
    """The full Hessian (*lead, P, P) by ``torch.func.hessian``, symmetrised.

    ``chunk_size`` bounds how many columns are built at once (memory): then the
    Jacobian of the gradient is taken in reverse mode, whose ``jacrev`` can chunk;
    ``None`` builds all P columns together (``hessian`` = ``jacfwd(jacrev)``).
    ``aux`` (*lead, B): a constant per replica passed as ``loss(θ, aux)``.
    """
    fn = hessian(loss) if chunk_size is None else jacrev(grad(loss), chunk_size=chunk_size)
    args = (theta,) if aux is None else (theta, aux)
    h = _over_lead(fn, theta.dim() - 1)(*args)
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


def data_chunked(parts: Sequence[tuple[float, Callable[[], MatMat]]]) -> MatMat:
    """Σ_c w_c A_c·V for the weighted chunks ``parts`` = [(w_c, make_c)], ``make_c()``
    building chunk c's matmat afresh at every call: one chunk's graph alive at a time."""

    def apply(vs: torch.Tensor) -> torch.Tensor:
        total = None
        for weight, make in parts:
            part = weight * make()(vs)
            total = part if total is None else total + part
        return total

    return apply


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


def hvp_sample_chunk(
    n_params: int, n_samples: int, widths: int, itemsize: int, memory_mb: float
) -> int:
    """Samples per data chunk such that one HVP (the estimate of :func:`hvp_batch_size`)
    fits ``memory_mb``: all ``n_samples`` when they fit, else as many as fit (≥ 1)."""
    room = memory_mb * 2**20 / itemsize - 4 * n_params
    return int(max(1, min(n_samples, room // max(6 * widths, 1))))
