"""Per-sample losses of network outputs, and their units.

``cross_entropy``: −log softmax(f)_y (nats). ``mse``: ½‖f − onehot(y)‖² for integer
class labels y, ½‖f − y‖² for real targets y (regression; dimensionless).
A data set's targets are real exactly when its task is regression
(:func:`targets`); accuracy is then undefined and comes back NaN.
"""

import torch
import torch.nn.functional as F

LOSSES = ("cross_entropy", "mse")


def is_regression(y: torch.Tensor) -> bool:
    """Real targets (regression) rather than integer class labels."""
    return y.is_floating_point()


def targets(values, dtype: torch.dtype, device=None) -> torch.Tensor:
    """Targets as a tensor: real ones (regression) in ``dtype``, class labels as int64."""
    y = torch.as_tensor(values)
    return y.to(device, dtype if is_regression(y) else torch.long)


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
    if is_regression(y):
        if loss != "mse":
            raise ValueError(f"loss {loss!r} with real targets: regression takes 'mse'")
        return 0.5 * ((outputs - y.unsqueeze(class_dim)) ** 2).sum(class_dim)
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
    evaluation and the loss-landscape grids. Real targets (regression): the loss
    and NaN hits (accuracy is undefined).
    """
    if is_regression(y):
        per_sample = per_sample_loss(out, y, loss, class_dim=-2)
        return per_sample, torch.full_like(per_sample, float("nan"))
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
