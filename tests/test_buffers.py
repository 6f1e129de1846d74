"""BatchNorm buffers: running statistics kept per replica in training (as torch keeps
them), evaluation with stored statistics (``bn_statistics: eval``) on grids and paths."""

import numpy as np
import pytest
import torch
from torch import nn

from statmech_nn import overlap as ov
from statmech_nn.landscape import evaluate_grid
from statmech_nn.losses import per_sample_loss
from statmech_nn.nets import build_network
from statmech_nn.nets.functional import full_batch_gradient

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def _images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 2 * 6 * 6, generator=torch.Generator().manual_seed(seed)).double()


def _torch_module(net, theta, buffers=None):
    module = net.factory().double()
    state = dict(net.unflatten(theta))
    if buffers is not None:
        state |= net.unflatten_buffers(buffers)
    module.load_state_dict(state, strict=False)
    return module


@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_statistics_follow_torch(momentum):
    """Three SGD steps of two replicas at once: parameters and running mean/variance equal
    those of each replica's own torch module trained in train mode (1e-10, float64)."""
    net = build_network("cnn-c3-c4-k3-bn", (2, 6, 6), 3)
    for _, norm in net._norms:
        norm.momentum = momentum
    net.__dict__.pop("buffer_momentum", None)
    bp = net.trainer("cross_entropy")
    theta = torch.stack([net.init(s, torch.float64) for s in (1, 2)])
    x = _images(2 * 3 * 8).reshape(3, 2, 8, -1)
    y = torch.randint(0, 3, (3, 2, 8), generator=torch.Generator().manual_seed(1))
    grad, lr = torch.empty_like(theta), 0.1
    for step in range(3):
        bp.loss_and_grad(theta, x[step], y[step], grad)
        theta -= lr * grad
    # an evaluation by full-batch gradient is not a training step
    kept = bp.buffers.clone()
    full_batch_gradient(bp, theta, x[0, 0], y[0, 0])
    torch.testing.assert_close(bp.buffers, kept, rtol=0, atol=0)
    for r, seed in enumerate((1, 2)):
        module = _torch_module(net, net.init(seed, torch.float64))
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = momentum
        module.train()
        for step in range(3):
            module.zero_grad()
            out = module(x[step, r].reshape(-1, 2, 6, 6))
            per_sample_loss(out, y[step, r], "cross_entropy").mean().backward()
            with torch.no_grad():
                for p in module.parameters():
                    p -= lr * p.grad
        params = net.flatten(dict(module.named_parameters()))
        torch.testing.assert_close(theta[r], params.detach(), rtol=0, atol=1e-10)
        stats = net.flatten_buffers(dict(module.named_buffers()))
        torch.testing.assert_close(bp.buffers[r], stats, rtol=0, atol=1e-10)


def _trained_pair(net):
    theta = torch.stack([net.init(s, torch.float64) for s in (3, 4)])
    gen = torch.Generator().manual_seed(2)
    means = torch.randn(2, 4, generator=gen, dtype=torch.float64)
    variances = 0.5 + torch.rand(2, 4, generator=gen, dtype=torch.float64)
    return theta, torch.cat([means, variances], dim=-1)


def test_eval_forward_is_torch_eval_mode():
    net = build_network("cnn-c4-k3-bn", (2, 6, 6), 3)
    theta, buffers = _trained_pair(net)
    x = _images(9)
    out = net.forward(theta, x, buffers)
    for r in range(2):
        module = _torch_module(net, theta[r], buffers[r]).eval()
        with torch.no_grad():
            expected = module(x.reshape(-1, 2, 6, 6))
        torch.testing.assert_close(out[r], expected, rtol=0, atol=1e-10)


def test_eval_grid_and_path_use_stored_and_interpolated_statistics():
    """A slice keeps the origin's statistics at every point; a path between two replicas
    interpolates them, so its endpoints are the trained networks in eval mode."""
    net = build_network("cnn-c4-k3-bn", (2, 6, 6), 3)
    theta, buffers = _trained_pair(net)
    x = _images(12, 1)
    net.bind_data(x)
    y = torch.randint(0, 3, (12,), generator=torch.Generator().manual_seed(3))

    def eval_loss(th, buf):
        with torch.no_grad():
            out = _torch_module(net, th, buf).eval()(x.reshape(-1, 2, 6, 6))
        return per_sample_loss(out, y, "cross_entropy").mean()

    t = torch.tensor([[0.0], [0.3], [1.0]], dtype=torch.float64)
    path = evaluate_grid(
        net, theta[0], (theta[1] - theta[0])[None], t, x, y, "cross_entropy",
        buffers0=buffers[0], buffer_directions=(buffers[1] - buffers[0])[None],
    )  # fmt: skip
    for i, t_i in enumerate((0.0, 0.3, 1.0)):
        th = (1 - t_i) * theta[0] + t_i * theta[1]
        buf = (1 - t_i) * buffers[0] + t_i * buffers[1]
        torch.testing.assert_close(path.loss[i], eval_loss(th, buf), rtol=0, atol=1e-10)
    d = torch.randn(net.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    line = evaluate_grid(net, theta, d[None, None], t, x, y, "cross_entropy", buffers0=buffers)
    for r in range(2):
        torch.testing.assert_close(
            line.loss[r, 1], eval_loss(theta[r] + 0.3 * d, buffers[r]), rtol=0, atol=1e-10
        )
    recomputed = evaluate_grid(net, theta, d[None, None], t, x, y, "cross_entropy")
    assert not torch.allclose(recomputed.loss, line.loss)


def test_aligned_buffers_move_with_their_channels():
    """Permuting channels moves the running statistics with them: the permuted network
    in eval mode is the same function."""
    net = build_network("cnn-c3-c4-k3-bn", (2, 6, 6), 3)
    theta = net.init(1, torch.float64)
    gen = torch.Generator().manual_seed(5)
    buffers = torch.cat(
        [torch.randn(3, generator=gen), 0.5 + torch.rand(3, generator=gen),
         torch.randn(4, generator=gen), 0.5 + torch.rand(4, generator=gen)]
    ).double()  # fmt: skip
    rng = np.random.default_rng(1)
    perm = {g: rng.permutation(len(p)) for g, p in ov.identity_permutation(net).items()}
    index = ov.permutation_index(net, perm)
    moved = buffers[net.buffer_index(index)]
    x = _images(5)
    torch.testing.assert_close(
        net.forward(theta[index], x, moved), net.forward(theta, x, buffers), rtol=0, atol=1e-10
    )
    assert not torch.equal(moved, buffers)


@pytest.fixture(scope="module")
def trained_bn():
    """Three replicas of a small BatchNorm CNN trained for two epochs on digits images."""
    from statmech_nn.data import digits
    from statmech_nn.train import train_study

    data = digits(0.25, 0, images=True)
    cfg = {
        "replicas": 3, "epochs": 2, "batch_size": 64, "optimizer": "adam", "lr": 0.01,
        "momentum": 0.0, "weight_decay": 0.0, "loss": "cross_entropy", "snapshots": 2,
        "dtype": "float64",
    }  # fmt: skip
    return data, train_study(data, "cnn-c3-k3-bn", cfg, seed=0)


def _eval_losses(train, data):
    """Training loss of every replica in eval mode (its running statistics), by torch."""
    net = build_network("cnn-c3-k3-bn", (1, 8, 8), 10)
    x = torch.as_tensor(data["x_train"].values).double().reshape(-1, 1, 8, 8)
    y = torch.as_tensor(data["y_train"].values).long()
    out = []
    for r in range(train.sizes["replica"]):
        theta = torch.as_tensor(train["params"].values[r])
        module = _torch_module(net, theta, torch.as_tensor(train["buffers"].values[r])).eval()
        with torch.no_grad():
            out.append(per_sample_loss(module(x), y, "cross_entropy").mean())
    return torch.stack(out)


def test_eval_statistics_reach_the_stages(trained_bn):
    """Overlap paths and segment slices with ``bn_statistics: eval`` start and end at the
    trained networks in eval mode; the Hessian's eval loss is the same function."""
    from statmech_nn.hessian import LossProblem, stored_buffers
    from statmech_nn.landscape import slice_study
    from statmech_nn.overlap import overlap_study

    data, train = trained_bn
    expected = _eval_losses(train, data)
    ov_ds = overlap_study(train, data, 5, 0.05, 64.0, "float64", bn_statistics="eval")
    assert ov_ds.attrs["bn_statistics"] == "eval"
    path = torch.as_tensor(ov_ds["path_loss"].values)  # (alignment, pair, t)
    a, b = ov_ds["pair_a"].values, ov_ds["pair_b"].values
    torch.testing.assert_close(path[..., 0], expected[a].expand(2, -1), rtol=0, atol=1e-10)
    torch.testing.assert_close(path[..., -1], expected[b].expand(2, -1), rtol=0, atol=1e-10)
    recomputed = overlap_study(train, data, 5, 0.05, 64.0, "float64")
    assert not np.allclose(recomputed["path_loss"].values, ov_ds["path_loss"].values)

    segment = {"axes": ["segment"], "ranges": [[0, 1]], "resolution": 3, "bn_statistics": "eval"}
    sl = slice_study(train, data, segment, 3, "float64", 32.0, seed=0)
    assert sl.attrs["bn_statistics"] == "eval"
    partner = sl["partner"].values
    torch.testing.assert_close(torch.as_tensor(sl["train_loss"].values[:, 0]), expected)
    torch.testing.assert_close(torch.as_tensor(sl["train_loss"].values[:, -1]), expected[partner])

    net = build_network("cnn-c3-k3-bn", (1, 8, 8), 10)
    x = torch.as_tensor(data["x_train"].values[:50]).double()
    y = torch.as_tensor(data["y_train"].values[:50]).long()
    buffers = stored_buffers(train, net, "eval")
    theta = torch.as_tensor(train["params"].values)
    problem = LossProblem(net, x, y, "cross_entropy", buffers)

    module = net.factory().double().eval()

    def torch_eval_loss(th):
        state = net.unflatten(th) | net.unflatten_buffers(buffers[0])
        out = torch.func.functional_call(module, state, (x.reshape(-1, 1, 8, 8),))
        return per_sample_loss(out, y, "cross_entropy").mean()

    dense = torch.func.hessian(torch_eval_loss)(theta[0])
    v = torch.eye(net.n_params, dtype=F64)[:5]
    got = problem.hessian(theta, "reverse")(v.expand(3, -1, -1))[0]
    torch.testing.assert_close(got, dense[:5], rtol=0, atol=1e-10)
    with pytest.raises(Exception, match="bn_statistics"):
        stored_buffers(train.drop_vars("buffers"), net, "eval")


@pytest.mark.parametrize("bias", ["zero", "normalise"])
def test_filter_normalisation_leaves_normalisation_layers_out_by_default(bias):
    """Li et al.'s choice (``bias: zero``, the default): random directions are zero on
    biases and on BatchNorm scales and shifts; ``normalise`` gives them θ's norm."""
    from statmech_nn.landscape.directions import random_directions

    net = build_network("cnn-c3-c4-k3-bn", (2, 6, 6), 3)
    theta = net.init(0, F64) + 0.5
    d = random_directions(net, theta, 1, "filter", bias, torch.Generator().manual_seed(0))[0]
    parts = net.unflatten(d)
    target = net.unflatten(theta)
    for name in ("norm0.weight", "norm1.bias", "conv0.bias", "head.bias"):
        if bias == "zero":
            assert torch.count_nonzero(parts[name]) == 0
        else:
            torch.testing.assert_close(parts[name].norm(), target[name].norm())
    for i in range(4):  # every filter of conv1 as long as θ's
        torch.testing.assert_close(
            parts["conv1.weight"][i].norm(), target["conv1.weight"][i].norm()
        )


def test_hessian_study_with_stored_statistics(trained_bn):
    """The Hessian stage in eval mode: its dense spectrum is that of the eval-mode loss
    (the replica's running statistics held fixed), and a tiny memory budget walks the
    data in chunks without changing the Lanczos extremes."""
    from test_hessian import STUDY_CFG  # tests/ is on sys.path, as for conftest

    from statmech_nn.hessian import hessian_study

    data, train = trained_bn
    cfg = STUDY_CFG | {
        "hvp": "reverse", "samples": 40, "replicas": 2, "k": 1, "ggn": False,
        "dense_max_params": 10_000, "trace_probes": 4, "slq_probes": 2, "slq_steps": 6,
        "bn_statistics": "eval",
    }  # fmt: skip
    dense = hessian_study(data, train, cfg, seed=0)
    assert dense.attrs["bn_statistics"] == "eval" and dense.attrs["sample_chunk"] == 40
    chunked = hessian_study(data, train, cfg | {"dense_max_params": 0, "memory_mb": 0.02}, seed=0)
    assert chunked.attrs["sample_chunk"] < 40
    torch.testing.assert_close(
        torch.as_tensor(chunked["lambda_extreme"].values),
        torch.as_tensor(dense["lambda_extreme"].values),
        rtol=1e-6,
        atol=1e-8,
    )
    recomputed = hessian_study(data, train, cfg | {"bn_statistics": "recompute"}, seed=0)
    assert not np.allclose(recomputed["trace_dense"].values, dense["trace_dense"].values)
