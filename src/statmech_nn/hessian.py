"""Hessian-vector products and curvature of a loss over a flat parameter vector."""

from collections.abc import Callable

import torch
from torch.func import grad, jvp


def hvp(loss: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, v: torch.Tensor):
    """H(θ)·v by forward-over-reverse differentiation (``jvp`` of ``grad``)."""
    return jvp(grad(loss), (theta,), (v,))[1]
