"""The CNN family's fast path (nets/cnn_stack.py) against the generic torch.func path.

:class:`ConvNetwork` passes a stack of parameter vectors through one grouped
convolution per layer and trains by one backward of the summed loss; its
``generic()`` twin is the same module through ``functional_call`` + ``vmap``.
Outputs and gradients agree to 1e-10 (float64), training curves to 1e-6
(float64), grid losses to 1e-5 (float32), HVPs to 1e-10 (float64), BatchNorm
included (batch statistics in training, running statistics per replica,
``eval`` and ``recompute`` at grid points).
"""

import pytest
import torch

from statmech_nn.hessian import LossProblem
from statmech_nn.landscape import evaluate_grid
from statmech_nn.nets import build_network
from statmech_nn.nets import functional as fn
from statmech_nn.nets.cnn import ConvNetwork
from statmech_nn.train import TrainSettings, train_replicas

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
ARCHS = ["cnn-c8-c8-k3", "cnn-c8-c8-k3-bn"]
SHAPE = (1, 6, 6)


def _setup(arch: str, n: int = 24, dtype=F64):
    net = build_network(arch, SHAPE, 4)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 36, generator=gen, dtype=dtype)
    y = torch.randint(0, 4, (n,), generator=gen)
    net.bind_data(x)
    theta = net.init_replicas([1, 2, 3], dtype)
    theta = theta + 0.05 * torch.randn(theta.shape, generator=gen, dtype=dtype)
    buffers = None
    if net.n_buffers:  # running means around 0, variances in [0.5, 1.5)
        buffers = net.flatten_buffers(
            {
                name: 0.3 * torch.randn(3, *s, generator=gen, dtype=dtype)
                if name.endswith("mean")
                else 0.5 + torch.rand(3, *s, generator=gen, dtype=dtype)
                for name, s in net.buffer_shapes.items()
            }
        )
    return net, net.generic(), x, y, theta, buffers


def _close(a, b, atol):
    torch.testing.assert_close(a, b, rtol=0, atol=atol)


def test_the_built_in_cnn_takes_the_fast_path():
    net = build_network("cnn-c8-c8-k3", SHAPE, 4)
    assert isinstance(net, ConvNetwork)
    assert type(net.generic()) is not ConvNetwork
    assert isinstance(net.trainer("cross_entropy"), fn.StackedTrainer)


@pytest.mark.parametrize(
    "arch", [*ARCHS, "cnn-c3-k5-relu-bn", "cnn-c2-c3-k3-gelu", "cnn-c2-c3-c2-k3-pool-bn"]
)
def test_outputs_and_gradients_equal_the_generic_path(arch):
    fast, generic, x, y, theta, buffers = _setup(arch)
    points = theta[:, None] + 0.1 * torch.randn(3, 4, theta.shape[-1], dtype=F64)  # (3, 4, P)
    for b in [None] if buffers is None else [None, buffers]:
        out = fast.forward(points, x, b)
        assert out.shape == (3, 4, len(y), 4)
        _close(out, generic.forward(points, x, b), 1e-10)
    _close(fast.forward(theta[0], x), generic.forward(theta[0], x), 1e-10)  # no leading dim
    _close(fast.forward_train(theta, x), generic.forward_train(theta, x), 1e-10)
    batches = x.reshape(3, 8, -1)  # every replica its own batch
    ys = y.reshape(3, 8)
    tf, tg = fast.trainer("cross_entropy"), generic.trainer("cross_entropy")
    for _ in range(2):  # two steps: running statistics updated twice
        gf, gg = torch.empty_like(theta), torch.empty_like(theta)
        lf = tf.loss_and_grad(theta, batches, ys, gf)
        _close(lf, tg.loss_and_grad(theta, batches, ys, gg), 1e-10)
        _close(gf, gg, 1e-10)
        assert gf.abs().max() > 1e-3
    if buffers is not None:
        _close(tf.buffers, tg.buffers, 1e-10)
        # the per-replica form the generic trainer uses, on the fast network
        o1, s1 = fast.forward_train_statistics(theta[1], batches[1])
        o2, s2 = generic.forward_train_statistics(theta[1], batches[1])
        _close(o1, o2, 1e-10)
        _close(s1, s2, 1e-10)


@pytest.mark.parametrize("arch", ARCHS)
def test_training_curves_equal_the_generic_path_in_float64(arch):
    fast, generic, x, y, _, _ = _setup(arch, n=40)
    s = TrainSettings(epochs=3, batch_size=8, lr=1e-2, snapshots=2)
    a = train_replicas(fast, x[:30], y[:30], x[30:], y[30:], s, [5, 6])
    b = train_replicas(generic, x[:30], y[:30], x[30:], y[30:], s, [5, 6])
    for name, curve in a.curves.items():
        _close(curve, b.curves[name], 1e-6)
    _close(a.params, b.params, 1e-6)
    _close(a.snapshot_grad_norms, b.snapshot_grad_norms, 1e-6)
    assert (a.curves["train_loss"][:, -1] < a.curves["train_loss"][:, 0]).all()
    if a.buffers is not None:
        _close(a.buffers, b.buffers, 1e-6)


@pytest.mark.parametrize("arch", ARCHS)
def test_grid_losses_equal_the_generic_path_in_float32(arch):
    fast, generic, x, y, theta, buffers = _setup(arch, dtype=torch.float32)
    dirs = torch.randn(3, 2, theta.shape[-1], generator=torch.Generator().manual_seed(2))
    coords = torch.cartesian_prod(torch.linspace(-1, 1, 5), torch.linspace(-1, 1, 5))
    for b in [None] if buffers is None else [None, buffers]:
        got = evaluate_grid(fast, theta, 0.1 * dirs, coords, x, y, "cross_entropy", buffers0=b)
        ref = evaluate_grid(generic, theta, 0.1 * dirs, coords, x, y, "cross_entropy", buffers0=b)
        _close(got.loss, ref.loss, 1e-5)
        _close(got.accuracy, ref.accuracy, 1e-5)
        assert got.loss.std() > 1e-3  # the plane is not flat


@pytest.mark.parametrize("arch", ARCHS)
def test_hvps_equal_the_generic_path_in_float64(arch):
    """Every HVP mode of the fast network, linearize included (it failed on CNNs), equals
    the generic network's reverse-over-reverse product; BatchNorm with given running
    statistics (eval) and recomputed ones."""
    fast, generic, x, y, theta, buffers = _setup(arch)
    v = torch.randn(3, 2, fast.n_params, generator=torch.Generator().manual_seed(3), dtype=F64)
    for b in [None] if buffers is None else [buffers, None]:
        ref = LossProblem(generic, x, y, "cross_entropy", b).hessian(theta, "reverse")(v)
        assert ref.abs().max() > 1e-3
        for mode in (
            ("reverse", "fresh", "linearize") if b is not None or arch == ARCHS[0] else ("reverse",)
        ):
            got = LossProblem(fast, x, y, "cross_entropy", b).hessian(theta, mode)(v)
            _close(got, ref, 1e-10)
    if buffers is None:  # the generic network's linearize too
        got = LossProblem(generic, x, y, "cross_entropy").hessian(theta, "linearize")(v)
        _close(got, ref, 1e-10)


def test_full_batch_gradient_in_sample_blocks_equals_one_pass(monkeypatch):
    fast, _, x, y, theta, _ = _setup("cnn-c8-c8-k3")
    bp = fast.trainer("cross_entropy")
    whole = fn.full_batch_gradient(bp, theta, x, y)
    monkeypatch.setattr(fn, "EVAL_BUDGET_MB", 1e-3)  # a few samples per block
    assert fn.gradient_block(fast, len(y), 3, 8) < len(y)
    blocks = fn.full_batch_gradient(bp, theta, x, y)
    _close(blocks[0], whole[0], 1e-12)
    _close(blocks[1], whole[1], 1e-12)
