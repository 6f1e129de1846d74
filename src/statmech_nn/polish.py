"""Polishing trained replicas into critical points of the full-batch training objective.

Mini-batch training stops where the epochs run out, not at a critical point:
the full-batch gradient g = ∇L(θ*) is small but not zero, and a slice through
θ* then shows a slope as well as curvature. Along a unit direction d over a
range r, curvature dominates when |gᵀd|·r ≪ ½|κ(d)|·r² (THEORY.md, "Critical
points"). Polishing runs full-batch L-BFGS (strong Wolfe line search; Nocedal &
Wright, Numerical Optimization, §7.2) in float64 on each replica separately
(so replica r's result does not depend on the others) until ‖∇L‖₂ ≤ ``tol`` or
``max_steps`` iterations. The function polished is the training objective
J = L + (wd/2)‖θ‖² (:mod:`statmech_nn.objective`; J = L when ``weight_decay`` is 0):
cross-entropy on separable data has no finite minimiser of L, and J has one.
"""

import logging
import math
import time
from dataclasses import dataclass

import torch

from statmech_nn.nets import Network
from statmech_nn.nets.functional import full_batch_gradient
from statmech_nn.objective import Objective

METHODS = ("none", "lbfgs")
CHECK_EVERY = 10  # L-BFGS iterations between checks of ‖∇J‖₂ ≤ tol
LOG_EVERY_S = 10.0  # progress lines in the rule's log at most this often
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Polished:
    """Polished parameters (R, P) in float64, their full-batch objective J and ‖∇J‖₂ (R,),
    L-BFGS iterations (R,) and whether ‖∇L‖₂ ≤ tol (R,); diverged replicas unchanged."""

    params: torch.Tensor
    loss: torch.Tensor
    grad_norm: torch.Tensor
    steps: torch.Tensor
    converged: torch.Tensor


def polish(
    model: Network,
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    tol: float,
    max_steps: int,
    weight_decay: float = 0.0,
) -> Polished:
    """Full-batch L-BFGS from every replica of ``theta`` (R, P) on the training set ``x``, ``y``,
    on the objective ``loss`` + (``weight_decay``/2)‖θ‖²."""
    bp, objective = model.trainer(loss), Objective(loss, weight_decay)

    def value_and_grad(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        value, grad = full_batch_gradient(bp, p, x, y)
        return objective.value(value, p), objective.gradient(grad, p)

    x, out = x.double(), theta.double().clone()
    steps = torch.zeros(theta.shape[0], dtype=torch.long)
    for r in range(theta.shape[0]):
        if not torch.isfinite(out[r]).all():
            continue
        p = out[r : r + 1].clone()

        def closure(p=p) -> torch.Tensor:
            value, p.grad = value_and_grad(p.detach())
            return value.sum()

        opt = torch.optim.LBFGS(
            [p],
            lr=1.0,
            max_iter=CHECK_EVERY,
            max_eval=4 * CHECK_EVERY,
            tolerance_grad=tol / math.sqrt(p.shape[-1]),  # max|g| bound ⇒ ‖g‖₂ ≤ tol
            tolerance_change=0.0,
            history_size=50,
            line_search_fn="strong_wolfe",
        )
        with torch.no_grad():
            # steps of CHECK_EVERY iterations (the history carries over: the same iterates
            # as one long run) until ‖∇J‖₂ ≤ tol itself, not only its max|g| bound
            done, last = 0, time.monotonic()
            while done < max_steps:
                opt.param_groups[0]["max_iter"] = min(CHECK_EVERY, max_steps - done)
                opt.step(closure)
                before, done = done, int(opt.state[p].get("n_iter", 0))
                norm = float(value_and_grad(p)[1].norm())
                if time.monotonic() - last >= LOG_EVERY_S:
                    log.info("polish replica %d: %d L-BFGS steps, |grad J| = %.2e", r, done, norm)
                    last = time.monotonic()
                if done == before or norm <= tol:
                    break
        out[r] = p.detach()[0]
        steps[r] = done
    final_loss, grad = value_and_grad(out)
    norm = grad.norm(dim=-1)
    return Polished(out, final_loss.detach(), norm, steps, norm <= tol)
