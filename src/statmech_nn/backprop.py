"""Hand-written forward and backward pass of an MLP's mean loss, R replicas at once.

For the small MLPs of this study, autograd's graph bookkeeping and torch's CPU
``tanh`` (about three times the cost of its ``sigmoid``) dominate replica
training. This module computes the same per-replica mean loss and gradient as
autograd through :meth:`MLP.forward` and ``losses.per_sample_loss``, with the
chain rule written out as batched matmuls over the replica dimension.

Layout in training: hidden activations are rows first, (R, n, width), and the
output layer gives classes first, (R, classes, n), the layout in which a narrow
output layer is the better GEMM and torch's loss kernels are fastest. An
evaluation on inputs shared by all replicas runs features first throughout
(see :meth:`Backprop.outputs`).

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

from dataclasses import dataclass

import torch

from statmech_nn.nets.mlp import MLP

ACTIVATIONS = ("tanh", "sigmoid", "relu", "gelu", "identity")
ALIGN = 16  # shared-input columns are padded to a multiple of this (64-byte rows in float32)
BLOCK = 256  # columns per pass of a shared-input evaluation (a multiple of ALIGN)
LOSSES = ("cross_entropy", "mse")


@dataclass(frozen=True)
class SharedInput:
    """Inputs shared by all replicas: ``xt`` (features, columns) holds ``n`` samples."""

    xt: torch.Tensor
    n: int


@dataclass(frozen=True)
class _Layer:
    """Views of one layer's parameters: weight (R, out, in), its transpose, bias (R, out)
    and the bias as a row (R, 1, out) and as a column (R, out, 1)."""

    w: torch.Tensor
    wt: torch.Tensor
    b: torch.Tensor | None
    b_row: torch.Tensor | None
    b_col: torch.Tensor | None

    @classmethod
    def of(cls, w: torch.Tensor, b: torch.Tensor | None) -> "_Layer":
        rows, cols = (None, None) if b is None else (b.unsqueeze(-2), b.unsqueeze(-1))
        return cls(w, w.mT, b, rows, cols)


class Backprop:
    """Mean loss, gradient and outputs of ``model`` for stacked parameters (R, P)."""

    def __init__(self, model: MLP, loss: str):
        if model.arch.activation not in ACTIVATIONS or loss not in LOSSES:
            raise ValueError(f"no hand-written backward for {model.arch.name} with {loss}")
        self.model, self.loss = model, loss
        self.act = model.arch.activation
        self.n_layers = model.n_layers
        self.bias = model.arch.bias
        self._buffers: dict[tuple, torch.Tensor] = {}
        self._views: tuple[torch.Tensor, list] | None = None
        # per layer (fed by tanh in sigmoid form, factor on its stored value, α of its GEMM)
        self._form: list[tuple[bool, float, float]] = []
        for i in range(self.n_layers):
            fed = self.act == "tanh" and i > 0  # its input is 2s − 1
            scale = 2.0 if self.act == "tanh" and i < self.n_layers - 1 else 1.0  # stores 2u
            self._form.append((fed, scale, scale * (2.0 if fed else 1.0)))

    def _buffer(
        self, tag: tuple, shape: tuple[int, ...], like: torch.Tensor, fill: float | None = None
    ) -> torch.Tensor:
        """A reused buffer: a fresh multi-MB tensor per call would be returned to the OS
        when freed and page-faulted in again (a third of an evaluation). With ``fill``, a
        constant filled once (never written to)."""
        key = (tag, fill, tuple(shape), like.dtype, like.device)
        if key not in self._buffers:
            new = like.new_empty(shape) if fill is None else like.new_full(shape, fill)
            self._buffers[key] = new
        return self._buffers[key]

    def _layers(self, theta: torch.Tensor) -> list[_Layer]:
        """Views of ``theta`` per layer; kept while the same tensor comes back (an
        optimizer updates it in place), which spares a dozen view ops per step."""
        if self._views is None or self._views[0] is not theta:
            p = self.model.unflatten(theta)
            layers = [
                _Layer.of(p[f"layer{i}.weight"], p.get(f"layer{i}.bias"))
                for i in range(self.n_layers)
            ]
            self._views = (theta, layers)
        return self._views[1]

    def _bias(self, layer: int, p: _Layer, column: bool) -> tuple[torch.Tensor | None, float]:
        """(bias, α) such that the layer's stored pre-activation is bias + α·W·a, with
        the bias as a column (R, out, 1) or a row (R, 1, out).

        For tanh, a hidden layer stores 2u (its sigmoid's argument) and a layer fed
        by tanh(u) = 2s − 1 sees W·(2s − 1) + b = 2W·s + (b − W·1).
        """
        sigmoid_input, scale, alpha = self._form[layer]
        if p.b is None:
            return None, alpha
        bias = p.b_col if column else p.b_row
        if sigmoid_input:
            row_sums = p.w.sum(-1, keepdim=True)
            bias = torch.sub(bias, row_sums if column else row_sums.mT)
            return (bias.mul_(scale) if scale != 1 else bias), alpha
        return (bias * scale if scale != 1 else bias), alpha

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

    def _forward(self, layers: list[_Layer], x: torch.Tensor):
        """Outputs (R, classes, n) and the values kept for the backward, one per hidden layer.

        ``x`` is (R, n, in). Hidden activations are rows first, (R, n, width); the
        output layer is computed classes first as W·aᵀ.
        """
        kept, passed = [], []
        last = self.n_layers - 1
        a = x
        for layer, p in enumerate(layers):
            r, o = p.w.shape[:2]
            if layer == last:
                bias, alpha = self._bias(layer, p, column=True)
                out = self._buffer(("out", layer), (r, o, a.shape[-2]), x)
                if bias is None:
                    return torch.bmm(p.w, a.mT, out=out), kept, passed
                return torch.baddbmm(bias, p.w, a.mT, alpha=alpha, out=out), kept, passed
            bias, alpha = self._bias(layer, p, column=False)
            out = self._buffer(("out", layer), (r, a.shape[-2], o), x)
            a, keep = self._activate(torch.baddbmm(bias, a, p.wt, alpha=alpha, out=out))
            kept.append(keep)
            passed.append(a)
        raise AssertionError("unreachable")

    def shared_input(self, x: torch.Tensor) -> SharedInput:
        """Inputs (n, in) shared by all replicas, as :meth:`outputs` takes them.

        Features first, (in [+ 1], n padded to a multiple of :data:`ALIGN` with zeros): torch's
        CPU GEMM runs about twice as fast when the rows of its operands and output
        start on cache lines (1797 columns: 7.4 ms, 1808: 3.4 ms). With a bias,
        β·(x | 1) with the first layer's β: the bias then rides in the GEMM, where
        torch's addmm would first copy it into every column of the output.
        """
        n = x.shape[0]
        rows = x.shape[1] + (1 if self.bias else 0)
        xt = x.new_zeros(rows, -(-n // ALIGN) * ALIGN)
        xt[: x.shape[1], :n] = x.T
        if self.bias:
            xt[-1, :n] = 1.0
            xt.mul_(self._form[0][1])
        return SharedInput(xt, n)

    def outputs(self, theta: torch.Tensor, inputs: SharedInput) -> torch.Tensor:
        """Network outputs (R, classes, n), classes first, for :meth:`shared_input`'s ``inputs``.

        Every layer runs features first, (R, width, columns): the first as one GEMM
        (R·width, in + 1)·(in + 1, columns) over all replicas, the next ones as
        batched W·a, whose narrow output layer is the better GEMM this way round.
        The columns pass through in blocks of :data:`BLOCK`, so that a layer's
        activations are still in cache for the next layer (a full (1024, 1808) layer
        is 7 MB, streamed to memory and back: a sixth of an evaluation). The
        result is a view of a buffer that the next call overwrites.
        """
        with torch.no_grad():
            xt, cols = inputs.xt, inputs.xt.shape[-1]
            layers = self._layers(theta)
            first = layers[0]
            r, width = first.w.shape[:2]
            w0 = first.w if first.b is None else torch.cat([first.w, first.b_col], dim=-1)
            w0 = w0.reshape(r * width, -1)  # xt carries the first layer's scale and the 1
            rest = [(p.w, *self._bias(i, p, column=True)) for i, p in enumerate(layers) if i]
            result = self._buffer(("shared",), (r, layers[-1].w.shape[1], cols), xt)
            for start in range(0, cols, BLOCK):
                block = xt[:, start : start + BLOCK]
                n = block.shape[-1]
                z = torch.mm(w0, block, out=self._buffer(("shared", 0), (r * width, n), xt))
                z = z.view(r, width, n)
                for layer, (w, bias, alpha) in enumerate(rest, start=1):
                    a = self._activate(z)[0]
                    out = self._buffer(("shared", layer), (r, w.shape[1], n), xt)
                    if bias is None:
                        z = torch.bmm(w, a, out=out)
                    else:
                        z = torch.baddbmm(bias, w, a, alpha=alpha, out=out)
                result[..., start : start + n].copy_(z)
            return result[..., : inputs.n]

    def _output_grad(self, z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-replica mean loss (R,) and its gradient with respect to the outputs ``z``."""
        n = z.shape[-1]
        if y.is_floating_point():  # real targets: ½‖f − y‖² (losses.per_sample_loss)
            delta = z - y.unsqueeze(1)
            return delta.square().sum((1, 2)).mul_(0.5 / n), delta.mul_(1.0 / n)
        idx = y.unsqueeze(1)
        minus_one = self._buffer(("constant",), idx.shape, z, fill=-1.0)
        if self.loss == "cross_entropy":
            logp = torch.log_softmax(z, dim=1)
            losses = logp.gather(1, idx).sum((1, 2)).mul_(-1.0 / n)
            delta = logp.exp_()
        else:
            delta = z.clone()
        delta.scatter_add_(1, idx, minus_one)
        if self.loss == "mse":
            losses = delta.square().sum((1, 2)).mul_(0.5 / n)
        return losses, delta.mul_(1.0 / n)

    def loss_and_grad(
        self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor
    ) -> torch.Tensor:
        """Per-replica mean loss (R,) on batches ``x`` (R, n, in), ``y`` (R, n).

        Writes ∂(Σ_r loss_r)/∂θ, whose row r is replica r's own gradient, into ``out`` (R, P).
        """
        with torch.no_grad():
            layers = self._layers(theta)
            z, kept, passed = self._forward(layers, x)
            losses, delta = self._output_grad(z, y)
            grads: list[torch.Tensor] = []
            last = self.n_layers - 1
            d = delta  # ∂L/∂z of the current layer, (R, out, n)
            for layer in range(last, -1, -1):
                p = layers[layer]
                a = x if layer == 0 else passed[layer - 1]  # (R, n, in)
                db = None if p.b is None else d.sum(-1, keepdim=True)
                if self._form[layer][0]:  # fed by tanh in sigmoid form: δ·hᵀ with h = 2s − 1
                    buf = self._buffer(("grad", layer), p.w.shape, x)
                    dw = torch.baddbmm(buf, d, a, beta=0, alpha=2, out=buf).sub_(db)
                else:
                    dw = torch.bmm(d, a)
                grads += [dw] if db is None else [db, dw]
                if layer > 0:
                    d = self._back_through_activation(layer, p.w, d, kept[layer - 1]).mT
            torch.cat([g.flatten(1) for g in reversed(grads)], dim=1, out=out)
        return losses

    def _back_through_activation(
        self, layer: int, w: torch.Tensor, d: torch.Tensor, kept: torch.Tensor
    ) -> torch.Tensor:
        """∂L/∂u (R, n, in) of the previous layer from δ (R, out, n) of this one and
        ``kept`` (R, n, in), the value :meth:`_activate` kept for that layer."""
        if self.act == "tanh":  # ∂h/∂u = 4s(1 − s), s = σ(2u)
            buf = self._buffer(("back", layer), kept.shape, kept)
            dh = torch.baddbmm(buf, d.mT, w, beta=0, alpha=4, out=buf)
        else:
            dh = torch.bmm(d.mT, w)
        if self.act in ("tanh", "sigmoid"):  # dh·s(1 − s) in one pass
            return torch.ops.aten.sigmoid_backward.grad_input(dh, kept, grad_input=dh)
        if self.act == "relu":
            return torch.ops.aten.threshold_backward(dh, kept, 0)
        return torch.ops.aten.gelu_backward(dh, kept)
