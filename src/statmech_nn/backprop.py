"""Hand-written forward and backward pass of an MLP's mean loss, R replicas at once.

For the small MLPs of this study, autograd's graph bookkeeping and torch's CPU
``tanh`` (about three times the cost of its ``sigmoid``) dominate replica
training. This module computes the same per-replica mean loss and gradient as
autograd through :meth:`Model.forward` and ``train.per_sample_loss``, with the
chain rule written out as batched matmuls over the replica dimension.

Layout: hidden activations are rows first, (R, n, width) (a bias broadcast
over rows costs a cheap copy in ``baddbmm``; over columns it costs as much as
the GEMM), and the output layer gives classes first, (R, classes, n), the
layout in which a narrow output layer is the better GEMM and torch's loss
kernels are fastest.

tanh runs in sigmoid form: tanh(u) = 2σ(2u) − 1, so a layer fed by tanh(u)
computes W·(2s − 1) + b = 2W·s + (b − W·1) with s = σ(2u); the factors 2 ride on
the GEMMs' ``alpha``/``beta`` and only s is stored. Rounding differs from
torch.tanh by about one unit in the last place of 1.

Backward, for a layer z = W·h + b and δ = ∂L/∂z (R, out, n):
∂L/∂W = δ·hᵀ, ∂L/∂b = Σₙ δ, ∂L/∂h = Wᵀ·δ, then ∂L/∂u = ∂L/∂h · act′(u) with
act′ = 4s(1 − s) (tanh in sigmoid form), h(1 − h) (sigmoid), 1[h > 0] (relu) or
torch's own gelu derivative. In sigmoid form, δ·hᵀ = 2δ·sᵀ − (Σₙ δ)·1ᵀ. The
loss's derivative with respect to the outputs f of a batch of n samples is
(softmax(f) − onehot(y))/n for the mean cross-entropy and (f − onehot(y))/n for
the mean of ½‖f − onehot(y)‖².
"""

import torch

from statmech_nn.models import Model

ACTIVATIONS = ("tanh", "sigmoid", "relu", "gelu", "identity")
LOSSES = ("cross_entropy", "mse")


class Backprop:
    """Mean loss, gradient and outputs of ``model`` for stacked parameters (R, P)."""

    def __init__(self, model: Model, loss: str):
        if model.arch.activation not in ACTIVATIONS or loss not in LOSSES:
            raise ValueError(f"no hand-written backward for {model.arch.name} with {loss}")
        self.model, self.loss = model, loss
        self.act = model.arch.activation
        self.n_layers = model.n_layers
        self.bias = model.arch.bias
        self._buffers: dict[tuple, torch.Tensor] = {}

    def _buffer(self, tag: tuple, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A reused buffer: a fresh multi-MB tensor per call would be returned to the OS
        when freed and page-faulted in again (a third of an evaluation)."""
        key = (tag, tuple(shape), like.dtype, like.device)
        if key not in self._buffers:
            self._buffers[key] = like.new_empty(shape)
        return self._buffers[key]

    def _layers(self, theta: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        p = self.model.unflatten(theta)
        return [(p[f"layer{i}.weight"], p.get(f"layer{i}.bias")) for i in range(self.n_layers)]

    def _scales(self, layer: int, w: torch.Tensor, b: torch.Tensor | None):
        """(bias, alpha, beta) such that the layer's next stored value is β·bias + α·W·a."""
        sigmoid_input = self.act == "tanh" and layer > 0
        alpha = 2.0 if sigmoid_input else 1.0
        if sigmoid_input:
            b = b - w.sum(-1)
        scale = 2.0 if self.act == "tanh" and layer < self.n_layers - 1 else 1.0
        return b, scale * alpha, scale

    def _activate(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(value passed on, value kept for the backward) of a hidden pre-activation ``u``.

        In place where torch has an in-place form; for tanh ``u`` already holds 2u.
        """
        if self.act in ("tanh", "sigmoid"):
            s = u.sigmoid_()
            return s, s
        if self.act == "relu":
            h = u.relu_()
            return h, h
        return torch.nn.functional.gelu(u), u  # gelu

    def _forward(self, layers, x: torch.Tensor, shared: bool):
        """Outputs (R, classes, n) and the values kept for the backward, one per hidden layer.

        ``x`` is (n, in) shared by all replicas (``shared``, from :meth:`shared_input`)
        or (R, n, in). Hidden activations are (R, n, width); the output layer is
        computed classes first as W·aᵀ.
        """
        kept, passed = [], []
        last = self.n_layers - 1
        a = x
        for layer, (w, b) in enumerate(layers):
            bias, alpha, beta = self._scales(layer, w, b)
            r, o = w.shape[:2]
            if layer == 0 and shared:  # one GEMM (n, in + 1)·(in + 1, R·out), bias folded in
                if bias is not None:  # α = β in layer 0, and x carries it
                    w = torch.cat([w, bias.unsqueeze(-1)], dim=-1)
                out = self._buffer(("shared", layer), (x.shape[0], r * o), x)
                z = torch.mm(x, w.reshape(r * o, -1).T, out=out).view(x.shape[0], r, o)
                z = z.permute(1, 2, 0) if layer == last else z.transpose(0, 1)
            elif layer == last:
                out = self._buffer(("out", layer), (r, o, a.shape[-2]), x)
                if bias is None:
                    z = torch.bmm(w, a.mT, out=out)
                else:
                    bias = (beta * bias).unsqueeze(-1)
                    z = torch.baddbmm(bias, w, a.mT, alpha=alpha, out=out)
            else:
                # rows first: the bias broadcast over rows is a cheap copy, and baddbmm with
                # β ≠ 1 is slower, so β rides on the (R, out) bias
                out = self._buffer(("out", layer), (r, a.shape[-2], o), x)
                z = torch.baddbmm((beta * bias).unsqueeze(-2), a, w.mT, alpha=alpha, out=out)
            if layer == last:
                return z, kept, passed
            a, keep = self._activate(z)
            kept.append(keep)
            passed.append(a)
        raise AssertionError("unreachable")

    def shared_input(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs (n, in) shared by all replicas as :meth:`outputs` takes them.

        With a bias, β·(x | 1) with the first layer's β: the bias then rides in the
        GEMM, where torch's addmm would first copy it into every row of the output.
        """
        if not self.bias:
            return x
        beta = self._scales(0, x, x)[2]
        return torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1).mul_(beta)

    def outputs(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Network outputs (R, classes, n), classes first, for ``x`` from :meth:`shared_input`.

        The result lives in a buffer that the next call overwrites.
        """
        with torch.no_grad():
            return self._forward(self._layers(theta), x, shared=True)[0]

    def _output_grad(self, z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-replica mean loss (R,) and its gradient with respect to the outputs ``z``."""
        n = z.shape[-1]
        idx = y.unsqueeze(1)
        minus_one = torch.full(idx.shape, -1.0, dtype=z.dtype, device=z.device)
        if self.loss == "cross_entropy":
            logp = torch.log_softmax(z, dim=1)
            losses = logp.gather(1, idx).mean((1, 2)).neg_()
            delta = logp.exp_()
        else:
            delta = z.clone()
        delta.scatter_add_(1, idx, minus_one)
        if self.loss == "mse":
            losses = delta.square().sum(1).mean(-1).mul_(0.5)
        return losses, delta.mul_(1.0 / n)

    def loss_and_grad(
        self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor
    ) -> torch.Tensor:
        """Per-replica mean loss (R,) on batches ``x`` (R, n, in), ``y`` (R, n).

        Writes ∂(Σ_r loss_r)/∂θ, whose row r is replica r's own gradient, into ``out`` (R, P).
        """
        with torch.no_grad():
            layers = self._layers(theta)
            z, kept, passed = self._forward(layers, x, shared=False)
            losses, delta = self._output_grad(z, y)
            grads: list[torch.Tensor] = []
            last = self.n_layers - 1
            for layer in range(last, -1, -1):
                w, b = layers[layer]
                d = delta if layer == last else delta.mT  # (R, out, n)
                a = x if layer == 0 else passed[layer - 1]  # (R, n, in)
                db = d.sum(-1) if b is not None else None
                if layer > 0 and self.act == "tanh":  # δ·hᵀ with h = 2s − 1
                    buf = self._buffer(("grad", layer), w.shape, x)
                    dw = torch.baddbmm(buf, d, a, beta=0, alpha=2, out=buf).sub_(db.unsqueeze(-1))
                else:
                    dw = torch.bmm(d, a)
                grads += [db, dw] if db is not None else [dw]
                if layer > 0:
                    delta = self._back_through_activation(layer, w, d, kept[layer - 1])
            torch.cat([g.flatten(1) for g in reversed(grads)], dim=1, out=out)
        return losses

    def _back_through_activation(
        self, layer: int, w: torch.Tensor, d: torch.Tensor, kept: torch.Tensor
    ) -> torch.Tensor:
        """∂L/∂u (R, n, in) of the previous layer from δ (R, out, n) of this one.

        ``kept`` (R, n, in) is consumed.
        """
        if self.act == "tanh":  # ∂h/∂u = 4s(1 − s), s = σ(2u)
            buf = self._buffer(("back", layer), kept.shape, kept)
            dh = torch.baddbmm(buf, d.mT, w, beta=0, alpha=4, out=buf)
            return dh.mul_(kept.addcmul_(kept, kept, value=-1))
        dh = torch.bmm(d.mT, w)
        if self.act == "sigmoid":
            return dh.mul_(kept.addcmul_(kept, kept, value=-1))
        if self.act == "relu":
            return torch.ops.aten.threshold_backward(dh, kept, 0)
        return torch.ops.aten.gelu_backward(dh, kept)
