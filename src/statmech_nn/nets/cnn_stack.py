"""The CNN family's fast path: a stack of S networks (replicas, grid points) in one pass.

The S parameter vectors' channels are folded into the channel dimension of one
activation tensor (n, S·C, H, W): a convolution of the whole stack is one grouped
convolution (``groups = S``; the first layer, fed by inputs all points share, one
ordinary convolution with S·C₁ output channels), a BatchNorm over the stack is
torch's batch norm over its S·C channels (statistics per sample of the stack and
channel, over samples and pixels, as each network's own layer takes them), 2×2
average pooling (``-pool``) acts per channel as it does for one network, global
pooling is a mean over pixels (a sum, then a division of the pooled values: the
backward of torch's ``mean`` materialises the expanded gradient, a pass over the
activations that a sum's backward does not make) and the linear heads one
batched matmul. No ``vmap``:
every kernel sees S times more work in one call, and gradients come from one
backward of the summed loss (the networks' losses are independent).

tanh runs in sigmoid form, tanh(u) = 2σ(2u) − 1 (torch's CPU sigmoid is several
times faster than its tanh), the factor 2 folded into the affine map before it.

The same function as :class:`statmech_nn.nets.cnn.ConvNet` called through
``functional_call`` (parity tests pin the two together to round-off in float64).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

Stats = dict[int, tuple[torch.Tensor, torch.Tensor]]  # layer -> (mean, var), each (S, C)


@dataclass(frozen=True)
class ConvStack:
    """What the kernels need of a built-in CNN: layers, kernel size, activation, BatchNorm,
    2×2 pooling between convolutions."""

    n_conv: int
    kernel: int
    activation: str
    batch_norm: bool
    eps: float = 1e-5
    pool: bool = False


def pool(h: torch.Tensor) -> torch.Tensor:
    """2×2 average pooling, stride 2, of images (..., H, W) -> (..., ⌈H/2⌉, ⌈W/2⌉); an odd
    edge's last window averages the pixels it covers (so a 1×1 image stays 1×1)."""
    return F.avg_pool2d(h, 2, ceil_mode=True)


def _act(z: torch.Tensor, activation: str) -> torch.Tensor:
    """The activation of a pre-activation ``z``; for tanh ``z`` is 2u (sigmoid form)."""
    if activation == "tanh":  # 2σ − 1 in one pass (no in-place op: linearize mistraces those)
        return torch.addcmul(z.new_full((), -1.0), torch.sigmoid(z), z.new_full((), 2.0))
    if activation == "sigmoid":
        return torch.sigmoid(z)
    if activation == "relu":
        return torch.relu(z)
    return F.gelu(z)


def _pixels(z: torch.Tensor) -> int:
    return z.shape[-2] * z.shape[-1]


def _grouped(t: torch.Tensor) -> torch.Tensor:
    """(S, C, ...) -> (S·C, ...)."""
    return t.reshape(t.shape[0] * t.shape[1], *t.shape[2:])


def stack_forward(
    spec: ConvStack,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    mode: str,
    stats: Stats | None = None,
) -> tuple[torch.Tensor, Stats]:
    """Outputs (S, n, n_outputs) of S networks and their BatchNorm batch statistics.

    ``params``: the networks' tensors, (S, *shape) each. ``x``: images (n, C, H, W)
    shared by the stack, or (S, n, C, H, W), one batch per network. ``mode``:

    - ``"train"``: BatchNorm normalises by the batch's mean and biased variance (torch's
      train mode); the returned statistics are the batch mean and *unbiased* variance
      per layer (what running statistics average), differentiable in θ;
    - ``"eval"``: BatchNorm normalises by ``stats`` (layer -> (mean, var), (S, C) each),
      written out so that it is differentiable in the statistics too.
    """
    s = next(iter(params.values())).shape[0]
    if x.dim() == 4:  # shared inputs: one convolution with S·C₁ output channels
        h, groups = x, 1
    else:
        h, groups = x.transpose(0, 1).reshape(x.shape[1], -1, *x.shape[3:]), s
    scale = 2.0 if spec.activation == "tanh" else 1.0  # tanh(u) = 2σ(2u) − 1
    seen: Stats = {}
    pad = spec.kernel // 2
    for i in range(spec.n_conv):
        w, b = params[f"conv{i}.weight"], params[f"conv{i}.bias"]
        if spec.batch_norm:
            z = F.conv2d(h, _grouped(w), _grouped(b), padding=pad, groups=groups)
            z = _normalise(spec, z, params, i, mode, stats, seen, s, scale)
        else:
            z = F.conv2d(h, _grouped(w * scale), _grouped(b * scale), padding=pad, groups=groups)
        groups = s
        if i < spec.n_conv - 1:
            h = _act(z, spec.activation)
            if spec.pool:
                h = pool(h)
        elif spec.activation == "tanh":  # global pooling of σ, then 2·mean − 1
            pooled = torch.sigmoid(z).sum((-2, -1)).mul(2 / _pixels(z)).sub(1)
        else:
            pooled = _act(z, spec.activation).sum((-2, -1)).div(_pixels(z))
    n = pooled.shape[0]
    features = pooled.reshape(n, s, -1).transpose(0, 1)  # (S, n, C)
    head_w, head_b = params["head.weight"], params["head.bias"]
    out = torch.baddbmm(head_b.unsqueeze(1), features, head_w.transpose(1, 2))
    return out, seen


def _normalise(spec, z, params, i, mode, stats, seen, s, scale):
    """BatchNorm layer ``i`` over the stack's S·C channels (see :func:`stack_forward`)."""
    gamma = params[f"norm{i}.weight"] * scale
    beta = params[f"norm{i}.bias"] * scale
    if mode == "train":  # batch statistics; normalised by the biased variance, as torch
        var, mean = torch.var_mean(z, dim=(0, 2, 3), correction=1)
        count = z.numel() // z.shape[1]
        seen[i] = (mean.view(s, -1), var.view(s, -1))
        mean, var = seen[i][0], seen[i][1] * ((count - 1) / count)
    else:
        mean, var = stats[i]
    factor = _grouped(gamma * torch.rsqrt(var + spec.eps))
    shift = _grouped(beta) - _grouped(mean) * factor
    return torch.addcmul(shift.view(1, -1, 1, 1), z, factor.view(1, -1, 1, 1))
