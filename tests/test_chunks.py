"""Data walked in chunks sized from a memory budget (issue 14 item 6): Hessian-vector and
Gauss–Newton products and grid losses equal their one-chunk values."""

import pytest
import torch

from statmech_nn.hessian import LossProblem
from statmech_nn.hessian.operators import hvp_batch_size, hvp_sample_chunk
from statmech_nn.landscape import evaluate_grid
from statmech_nn.landscape.grid import sample_block
from statmech_nn.nets import build_network

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def _setup(arch: str, shape: tuple[int, ...], n: int = 30):
    net = build_network(arch, shape, 3)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, int(torch.tensor(shape).prod()), generator=gen, dtype=F64)
    y = torch.randint(0, 3, (n,), generator=gen)
    net.bind_data(x)
    theta = torch.stack([net.init(s, F64) for s in (1, 2)])
    theta = theta + 0.1 * torch.randn(theta.shape, generator=gen, dtype=F64)
    buffers = None
    if net.n_buffers:  # running means around 0, variances in [0.5, 1.5)
        buffers = net.flatten_buffers(
            {
                name: torch.randn(2, *s, generator=gen, dtype=F64)
                if name.endswith("mean")
                else 0.5 + torch.rand(2, *s, generator=gen, dtype=F64)
                for name, s in net.buffer_shapes.items()
            }
        )
    return net, x, y, theta, buffers


NETS = [("mlp-d2-w6-tanh", (5,)), ("cnn-c3-c4-k3-bn", (2, 5, 5))]


@pytest.mark.parametrize(
    ("arch", "shape", "mode"),
    [
        (*NETS[0], "linearize"),
        (*NETS[0], "reverse"),
        (*NETS[1], "reverse"),
        (*NETS[1], "fresh"),
        (*NETS[1], "linearize"),  # convolutions: one tangent pass per vector (operators.py)
    ],
)
def test_chunked_hvps_equal_unchunked(arch, shape, mode):
    net, x, y, theta, buffers = _setup(arch, shape)
    v = torch.randn(2, 3, net.n_params, generator=torch.Generator().manual_seed(1), dtype=F64)
    for buf in [None] if buffers is None else [None, buffers]:
        whole = LossProblem(net, x, y, "cross_entropy", buf)
        parts = LossProblem(net, x, y, "cross_entropy", buf, sample_chunk=7)
        assert len(parts._chunks()) == 5
        expected = whole.hessian(theta, mode)(v)
        torch.testing.assert_close(parts.hessian(theta, mode)(v), expected, rtol=0, atol=1e-10)
        torch.testing.assert_close(
            parts.ggn(theta, mode)(v), whole.ggn(theta, mode)(v), rtol=0, atol=1e-10
        )
        torch.testing.assert_close(parts.loss_fn(theta), whole.loss_fn(theta), rtol=0, atol=1e-12)
        one = parts.replica(1)
        torch.testing.assert_close(
            one.hessian(theta[1], mode)(v[1]), expected[1], rtol=0, atol=1e-10
        )


def test_sample_chunk_fits_the_budget():
    """One HVP on a chunk is within the budget's estimate; all samples when they fit."""
    p, widths, itemsize = 10_000, 500, 8
    assert hvp_sample_chunk(p, 100, widths, itemsize, 1024.0) == 100
    chunk = hvp_sample_chunk(p, 100_000, widths, itemsize, 16.0)
    assert 1 <= chunk < 100_000
    assert hvp_batch_size(p, chunk, widths, itemsize, 16.0) == 1
    assert hvp_batch_size(p, chunk + 1, widths, itemsize, 16.0) == 1  # floor: at least one
    per_vector = itemsize * (6 * chunk * widths + 4 * p)
    assert per_vector <= 16.0 * 2**20 < itemsize * (6 * (chunk + 1) * widths + 4 * p)


@pytest.mark.parametrize(("arch", "shape"), NETS)
@pytest.mark.parametrize("fast", [True, False])
def test_chunked_grid_equals_unchunked(arch, shape, fast):
    """Grid losses and accuracies with the data in blocks of a few samples (a tiny budget)
    equal those of one block; BatchNorm statistics come from the bound subset either way."""
    net, x, y, theta, buffers = _setup(arch, shape)
    gen = torch.Generator().manual_seed(2)
    dirs = torch.randn(2, 2, net.n_params, generator=gen, dtype=F64)
    coords = torch.cartesian_prod(*[torch.linspace(-1, 1, 3, dtype=F64)] * 2)
    tiny = 4 * 8 * (net.n_params + 5 * net.activations_per_sample) / 2**20
    assert sample_block(net, len(y), 8, tiny) < len(y) == sample_block(net, len(y), 8, 64.0)
    args = (net, theta, dirs, coords, x, y, "cross_entropy")
    recomputed = evaluate_grid(*args, 64.0, fast)
    for buf in [None, buffers]:
        whole = evaluate_grid(*args, 64.0, fast, buffers0=buf)
        parts = evaluate_grid(*args, tiny, fast, buffers0=buf)
        torch.testing.assert_close(parts.loss, whole.loss, rtol=0, atol=1e-10)
        torch.testing.assert_close(parts.accuracy, whole.accuracy, rtol=0, atol=1e-12)
        single = evaluate_grid(*args, 64.0, fast, buffers0=buf)
        torch.testing.assert_close(single.loss, whole.loss, rtol=0, atol=0)
    f32 = evaluate_grid(net, theta.float(), dirs.float(), coords.float(), x.float(), y,
                        "cross_entropy", tiny / 2, fast)  # fmt: skip
    torch.testing.assert_close(f32.loss.double(), recomputed.loss, rtol=0, atol=1e-6)
