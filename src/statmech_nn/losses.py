"""Per-sample losses of network outputs, and their units.

``cross_entropy``: −log softmax(f)_y (nats). ``mse``: ½‖f − onehot(y)‖² (dimensionless).
"""

import torch
import torch.nn.functional as F

LOSSES = ("cross_entropy", "mse")


def loss_units(loss: str) -> str:
    """Units of a loss value (and of a curvature, parameters being dimensionless)."""
    return "nats" if loss == "cross_entropy" else "1"


def per_sample_loss(
    outputs: torch.Tensor, y: torch.Tensor, loss: str, class_dim: int = -1
) -> torch.Tensor:
    """Loss of each sample: ``outputs`` without its class dimension ``class_dim``.

    ``cross_entropy``: −log softmax(f)_y. ``mse``: ½‖f − onehot(y)‖². Outputs
    are (..., n, classes), or (..., classes, n) with ``class_dim=-2`` (the
    layout in which torch's CPU kernels for a few classes are fastest).
    """
    if class_dim not in (-1, -2):
        raise ValueError(f"class_dim {class_dim}: expected -1 or -2")
    classes = outputs.shape[class_dim]
    samples = outputs.movedim(class_dim, -1).shape[:-1]
    y = y.expand(samples)
    if loss == "cross_entropy":
        if class_dim == -1:
            flat = F.cross_entropy(outputs.reshape(-1, classes), y.reshape(-1), reduction="none")
        else:
            flat = F.cross_entropy(
                outputs.reshape(-1, classes, samples[-1]),
                y.reshape(-1, samples[-1]),
                reduction="none",
            )
        return flat.reshape(samples)
    if loss == "mse":
        target = F.one_hot(y, classes).to(outputs.dtype).movedim(-1, class_dim)
        return 0.5 * ((outputs - target) ** 2).sum(class_dim)
    raise ValueError(f"loss {loss!r}: expected one of {LOSSES}")


def loss_and_hits(out: torch.Tensor, y: torch.Tensor, loss: str):
    """Per-sample loss and ``argmax == y`` for outputs (..., classes, n), classes first.

    torch's argmax and log_softmax over a non-innermost dimension are far slower
    than its amax (~100x and ~5x), so both start from the per-sample maximum m:
    −log softmax(f)_y = m + log Σ exp(f − m) − f_y. Where every sample has one
    maximum, argmax == y is f_y == m; argmax runs only on ties (a sample with
    NaN outputs has a NaN loss and falls back to argmax too). Shared by training's
    evaluation and the loss-landscape grids.
    """
    top = out.amax(-2, keepdim=True)
    picked = out.gather(-2, y.expand(*out.shape[:-2], 1, -1))
    is_top = out == top
    if int(torch.count_nonzero(is_top)) == is_top.numel() // is_top.shape[-2]:
        hits = (picked == top).squeeze(-2)
    else:
        hits = out.argmax(-2) == y
    if loss != "cross_entropy":
        return per_sample_loss(out, y, loss, class_dim=-2), hits
    lse = (out - top).exp_().sum(-2, keepdim=True).log_().add_(top)
    return lse.sub_(picked).squeeze(-2), hits
