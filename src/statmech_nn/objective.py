"""The training objective: the mean data loss plus the L2 term training adds to it.

J(θ) = L(θ) + (wd/2)·‖θ‖², ∇J = ∇L + wd·θ, ∇²J = ∇²L + wd·I, with L the mean
per-sample loss on the training set (cross-entropy in nats, or mse) and wd the
config's ``train.weight_decay``. SGD and Adam with coupled weight decay (optim.py,
as torch.optim) add wd·θ to the gradient, so training descends J and its fixed
points are J's critical points, not L's. Every stage that analyses a trained
network (polishing, the Hessian, slices, projected curvatures, overlap paths)
analyses J, so a file's loss, Hessian and slices describe the one function training
minimised. With wd = 0, J = L and every function here returns its input unchanged
(bitwise). Cross-entropy on separable data has no finite minimiser of L; J has one
for any wd > 0 (the penalty grows without bound), which polishing can reach.

The penalty has no units of its own: it is added to the loss, in the loss's units
(parameters are dimensionless).
"""

from collections.abc import Mapping
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Objective:
    """Data loss ``loss`` (a name of :data:`statmech_nn.losses.LOSSES`) plus (wd/2)‖θ‖²."""

    loss: str
    weight_decay: float = 0.0

    @classmethod
    def of(cls, attrs: Mapping) -> "Objective":
        """The objective a training file's attrs record (wd = 0 for files without one)."""
        return cls(str(attrs["loss"]), float(attrs.get("weight_decay", 0.0)))

    @property
    def name(self) -> str:
        """E.g. ``cross_entropy + 0.5*0.001*|theta|^2``; the loss's name alone when wd = 0."""
        if not self.weight_decay:
            return self.loss
        return f"{self.loss} + 0.5*{self.weight_decay:g}*|theta|^2"

    @property
    def label(self) -> str:
        """Words for axis labels: "training objective" with a penalty, else "training loss"."""
        return "training objective" if self.weight_decay else "training loss"

    def attrs(self) -> dict[str, object]:
        """The attrs every file analysing J carries."""
        return {"objective": self.name, "weight_decay": float(self.weight_decay)}

    def penalty(self, theta: torch.Tensor) -> torch.Tensor:
        """(wd/2)‖θ‖² for parameters (..., P): shape (...)."""
        return 0.5 * self.weight_decay * theta.pow(2).sum(-1)

    def value(self, data_loss: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """J = L + (wd/2)‖θ‖² from the mean data loss (...) at θ (..., P)."""
        return data_loss + self.penalty(theta) if self.weight_decay else data_loss

    def gradient(self, data_grad: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """∇J = ∇L + wd·θ (a new tensor; ``data_grad`` itself when wd = 0)."""
        return data_grad.add(theta, alpha=self.weight_decay) if self.weight_decay else data_grad

    def hvp(self, data_hv: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """∇²J·v = ∇²L·v + wd·v (the penalty's Hessian, and its Gauss–Newton part, is wd·I)."""
        return data_hv.add(v, alpha=self.weight_decay) if self.weight_decay else data_hv

    def matmat(self, data_matmat):
        """A matmat ``V -> A·V`` of the data loss's curvature A as ``V -> (A + wd·I)·V``."""
        if not self.weight_decay:
            return data_matmat
        return lambda vs: self.hvp(data_matmat(vs), vs)

    def grid_penalty(
        self, theta0: torch.Tensor, directions: torch.Tensor, coords: torch.Tensor
    ) -> torch.Tensor:
        """(wd/2)‖θ₀ + Σⱼ cⱼdⱼ‖² at every row c of ``coords`` (n_points, k), in float64.

        ``theta0`` (L, P), ``directions`` (L, k, P): shape (L, n_points), from the
        expansion ‖θ₀‖² + 2 cᵀ(Dθ₀) + cᵀ(DDᵀ)c (exact for any grid, no point formed).
        """
        t0, d, c = theta0.double(), directions.double(), coords.to(theta0.device).double()
        sq = t0.pow(2).sum(-1, keepdim=True)  # (L, 1)
        cross = torch.einsum("lkp,lp->lk", d, t0)  # (L, k)
        gram = d @ d.mT  # (L, k, k)
        quad = torch.einsum("nk,lkj,nj->ln", c, gram, c)
        return 0.5 * self.weight_decay * (sq + 2 * cross @ c.T + quad)
