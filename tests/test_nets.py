"""The network interface: the generic torch.func path against the MLP's fast paths,
the CNN family, and networks and data from the config (one-line errors)."""

import json
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from statmech_nn import overlap as ov
from statmech_nn.data import digits, from_file, make_dataset
from statmech_nn.errors import InputError
from statmech_nn.hessian import LossProblem
from statmech_nn.landscape import evaluate_grid
from statmech_nn.nets import MLP, ModuleNetwork, build_network, network_from_attrs
from statmech_nn.train import TrainSettings, train_replicas, train_study

pytestmark = pytest.mark.usefixtures("one_thread")


class _Layers(nn.Module):
    """An MLP written as a plain nn.Module, with the MLP family's parameter names."""

    def __init__(self, sizes: list[int], act: nn.Module):
        super().__init__()
        self.n = len(sizes) - 1
        for i in range(self.n):
            setattr(self, f"layer{i}", nn.Linear(sizes[i], sizes[i + 1]))
        self.act = act

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"layer{i}")(x)
            if i < self.n - 1:
                x = self.act(x)
        return x


def _pair(arch: str, in_dim: int = 5, out: int = 3):
    """The MLP ``arch`` and the same network through the generic path (same init)."""
    mlp = MLP.build(arch, in_dim, out)
    acts = {"tanh": nn.Tanh(), "relu": nn.ReLU(), "sigmoid": nn.Sigmoid()}
    sizes = [in_dim] + [mlp.arch.width] * mlp.arch.depth + [out]
    generic = ModuleNetwork(arch, lambda: _Layers(sizes, acts[mlp.arch.activation]), (in_dim,), out)
    generic.init = mlp.init  # the same initial parameters, so trajectories can be compared
    assert generic.shapes == mlp.shapes
    return mlp, generic


def _data(n: int = 40, in_dim: int = 5, classes: int = 3, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, in_dim, generator=gen, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=gen)
    return x, y


@pytest.mark.parametrize("arch", ["mlp-d1-w6-tanh", "mlp-d2-w4-relu"])
def test_generic_training_equals_the_fast_path_in_float64(arch):
    mlp, generic = _pair(arch)
    x, y = _data(48)
    xt, yt = _data(20, seed=1)
    s = TrainSettings(epochs=4, batch_size=16, lr=1e-2)
    fast = train_replicas(mlp, x, y, xt, yt, s, [3, 4, 5])
    slow = train_replicas(generic, x, y, xt, yt, s, [3, 4, 5])
    for name, curve in fast.curves.items():
        torch.testing.assert_close(slow.curves[name], curve, rtol=0, atol=1e-6)
    torch.testing.assert_close(slow.params, fast.params, rtol=0, atol=1e-6)
    assert not torch.allclose(fast.params, mlp.init_replicas([3, 4, 5], torch.float64))


def test_generic_grid_equals_the_fast_path_in_float32():
    mlp, generic = _pair("mlp-d2-w8-tanh")
    x, y = _data(60)
    theta = mlp.init_replicas([1, 2], torch.float32)
    dirs = torch.randn(2, 2, mlp.n_params, generator=torch.Generator().manual_seed(0))
    coords = torch.cartesian_prod(torch.linspace(-1, 1, 5), torch.linspace(-1, 1, 4))
    fast = evaluate_grid(mlp, theta, dirs, coords, x.float(), y, "cross_entropy")
    slow = evaluate_grid(generic, theta, dirs, coords, x.float(), y, "cross_entropy", 0.05)
    torch.testing.assert_close(slow.loss, fast.loss, rtol=0, atol=1e-5)
    torch.testing.assert_close(slow.accuracy, fast.accuracy, rtol=0, atol=1e-6)
    assert fast.loss.std() > 1e-2  # the grid is not flat: the comparison means something


def test_generic_hvps_equal_the_fast_paths_in_float64():
    mlp, generic = _pair("mlp-d2-w4-tanh")
    x, y = _data(30)
    theta = mlp.init_replicas([7, 8], torch.float64)
    v = torch.randn(2, 3, mlp.n_params, dtype=torch.float64)
    products = [LossProblem(m, x, y, "cross_entropy").hessian(theta)(v) for m in (mlp, generic)]
    torch.testing.assert_close(products[1], products[0], rtol=0, atol=1e-10)
    assert products[0].abs().max() > 1e-3


def _cnn_data(n: int = 12):
    gen = torch.Generator().manual_seed(5)
    return torch.randn(n, 2 * 6 * 6, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("arch", ["cnn-c4-c5-k3", "cnn-c4-c5-k3-pool"])
def test_cnn_shapes_and_channel_permutation_preserve_the_function(arch):
    net = build_network(arch, (2, 6, 6), 3)
    assert net.shapes["conv0.weight"] == (4, 2, 3, 3)
    assert net.shapes["conv1.weight"] == (5, 4, 3, 3)
    assert net.shapes["head.weight"] == (3, 5)
    assert (net.depth, net.width) == (2, 5)
    bn = build_network("cnn-c4-c5-k3-bn", (2, 6, 6), 3)  # BatchNorm layers are not hidden layers
    assert (bn.depth, bn.width) == (2, 5) and bn.norm_layers == {"norm0", "norm1"}
    theta = net.init(1, torch.float64)
    x = _cnn_data()
    rng = np.random.default_rng(0)
    perm = {g: rng.permutation(len(p)) for g, p in ov.identity_permutation(net).items()}
    assert set(perm) == {"conv0", "conv1"}
    moved = ov.permute(net, theta, perm)
    assert not torch.allclose(moved, theta)
    torch.testing.assert_close(net.forward(moved, x), net.forward(theta, x), rtol=0, atol=1e-12)
    # weight matching finds the permutation back: the aligned overlap is 1
    found, _ = ov.weight_matching(net, theta, moved)
    q, per_layer = ov.pair_overlaps(net, theta, ov.permute(net, moved, found))
    assert float(q) == pytest.approx(1.0, abs=1e-12)
    assert float(ov.pair_overlaps(net, theta, moved)[0]) < 0.9


def test_pool_averages_2x2_windows_and_the_odd_edge_by_the_pixels_it_covers():
    net = build_network("cnn-c1-c1-k1-pool-relu", (1, 5, 5), 1)
    # conv0 and conv1 the identity (k = 1, weight 1, bias 0), head the identity: the output
    # is the global mean of the 3×3 pooled image of relu(x)
    theta = torch.zeros(net.n_params, dtype=torch.float64)
    params = {name: t.clone() for name, t in net.unflatten(theta).items()}
    for name in ("conv0.weight", "conv1.weight", "head.weight"):
        params[name] += 1.0
    theta = net.flatten(params)
    x = torch.arange(25, dtype=torch.float64).reshape(1, 25)
    img = x.reshape(5, 5)
    pooled = torch.stack(
        [torch.stack([img[i : i + 2, j : j + 2].mean() for j in (0, 2, 4)]) for i in (0, 2, 4)]
    )
    assert pooled[2, 2] == 24 and pooled[0, 2] == (4 + 9) / 2  # edge windows: covered pixels
    torch.testing.assert_close(net.forward(theta, x)[0, 0], pooled.mean(), rtol=0, atol=1e-12)
    torch.testing.assert_close(net.generic().forward(theta, x), net.forward(theta, x))
    assert net.module(x.float().reshape(1, 1, 5, 5)).shape == (1, 1)


def test_cnn_forward_broadcasts_over_stacked_parameters():
    net = build_network("cnn-c3-k3-relu", (2, 6, 6), 4)
    theta = net.init_replicas([1, 2, 3], torch.float64).reshape(3, 1, -1)
    x = _cnn_data(7)
    out = net.forward(theta, x)
    assert out.shape == (3, 1, 7, 4)
    torch.testing.assert_close(out[1, 0], net.forward(theta[1, 0], x))


def test_init_is_reproducible_from_the_seed_and_leaves_the_global_generator_alone():
    net = build_network("cnn-c3-k3", (1, 8, 8), 10)
    state = torch.random.get_rng_state()
    a, b, c = net.init(4), net.init(4), net.init(5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_network_rebuilt_from_a_training_files_attrs():
    net = build_network("cnn-c3-k3", (1, 8, 8), 10)
    again = network_from_attrs(net.describe())
    assert again.shapes == net.shapes and again.input_shape == (1, 8, 8)
    mlp = build_network("mlp-d1-w4", (64,), 10)
    assert network_from_attrs(mlp.describe()) == mlp


def test_cnn_needs_images():
    with pytest.raises(InputError, match=r"cnn-c3-k3: a CNN takes images .*images: true"):
        build_network("cnn-c3-k3", (64,), 10)


@pytest.mark.slow
def test_cnn_learns_digits_images():
    ds = digits(0.25, 0, images=True)
    assert json.loads(ds.attrs["input_shape_json"]) == [1, 8, 8]
    t = [torch.as_tensor(ds[k].values) for k in ("x_train", "y_train", "x_test", "y_test")]
    t = [v.float() if v.is_floating_point() else v.long() for v in t]
    net = build_network("cnn-c16-c32-k3", (1, 8, 8), 10)
    res = train_replicas(net, *t, TrainSettings(epochs=12, batch_size=32, lr=1e-2), [1, 2])
    assert float(res.curves["test_accuracy"][:, -1].min()) > 0.9


# settings the quick config can take (train section); measured 0.918-0.94 on 4 replicas
QUICK_CNN = {
    "replicas": 4, "epochs": 8, "batch_size": 32, "optimizer": "adam", "lr": 0.01,
    "momentum": 0.0, "weight_decay": 0.0, "loss": "cross_entropy", "snapshots": 5,
    "dtype": "float32",
}  # fmt: skip


@pytest.mark.slow
def test_cnn_with_batch_norm_learns_digits_images_at_quick_settings():
    """cnn-c16-c32-k3-bn on the 1×8×8 digits, every replica above 90 % test accuracy after
    8 epochs of the quick config's training (lr 0.01); the running statistics are stored,
    and evaluating with them (eval mode) classifies nearly as well: measured 0.849-0.900 on
    one machine, 0.876-0.931 on another (float32 kernels differ; the statistics, a moving
    average with momentum 0.1, lag the weights), where the initial statistics give 0.10-0.26."""
    ds = digits(0.25, 0, images=True)
    res = train_study(ds, "cnn-c16-c32-k3-bn", QUICK_CNN, seed=0)
    assert float(res["test_accuracy"][:, -1].min()) > 0.9
    assert res["buffers"].dims == ("replica", "buffer") and res.sizes["buffer"] == 2 * (16 + 32)
    net = network_from_attrs(res.attrs)
    x = torch.as_tensor(ds["x_test"].values).float()
    out = net.forward(
        torch.as_tensor(res["params"].values), x, torch.as_tensor(res["buffers"].values)
    )
    accuracy = (out.argmax(-1) == torch.as_tensor(ds["y_test"].values)).double().mean(-1)
    assert float(accuracy.min()) > 0.8
    fresh = net.forward(torch.as_tensor(res["params"].values), x, net.init_buffers(4, x.dtype))
    untrained = (fresh.argmax(-1) == torch.as_tensor(ds["y_test"].values)).double().mean(-1)
    assert float(untrained.max()) < 0.5  # the stored statistics are learned ones


# ---------------------------------------------------------------- a researcher's own network

FACTORIES = """
from torch import nn

def small(input_shape, n_outputs, hidden=4):
    return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[-1], hidden), nn.Tanh(),
                         nn.Linear(hidden, n_outputs))

def broken(input_shape, n_outputs):
    raise RuntimeError("out of ideas")

def not_a_module(input_shape, n_outputs):
    return 42

def no_args():
    return nn.Linear(2, 2)

value = 3
"""


@pytest.fixture
def factories(tmp_path, monkeypatch):
    """A `models/` folder in the working directory, as at a workflow's root."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "userfactories.py").write_text(textwrap.dedent(FACTORIES))
    monkeypatch.chdir(tmp_path)
    yield
    sys.modules.pop("userfactories", None)


def test_custom_model_from_the_models_folder(factories):
    spec = {"mine": {"factory": "userfactories:small", "kwargs": {"hidden": 6}}}
    net = build_network("mine", (5,), 3, spec)
    assert net.shapes == {"1.weight": (6, 5), "1.bias": (6,), "3.weight": (3, 6), "3.bias": (3,)}
    assert net.permutation is None  # unknown structure: alignment is skipped
    x, y = _data(20)
    res = train_replicas(net, x, y, x, y, TrainSettings(epochs=2, batch_size=8), [1, 2])
    assert res.curves["train_loss"][:, -1].isfinite().all()
    assert network_from_attrs(net.describe()).shapes == net.shapes


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("nowhere:thing", r"models.mine.factory: cannot import module 'nowhere'"),
        ("userfactories:missing", r"models.mine.factory: module 'userfactories' has no callable"),
        ("userfactories:value", r"models.mine.factory: module 'userfactories' has no callable"),
        ("userfactories:no_args", r"models.mine.factory: .* does not take \(input_shape, n_out"),
        ("userfactories:broken", r"models.mine: factory .* raised RuntimeError: out of ideas"),
        ("userfactories:not_a_module", r"models.mine: factory .* returned int, expected a torch"),
        ("no-colon", r"models.mine.factory: 'no-colon', expected 'module:callable'"),
    ],
)
def test_bad_factories_are_one_line_errors(factories, factory, message):
    with pytest.raises(InputError, match=message) as err:
        build_network("mine", (5,), 3, {"mine": {"factory": factory}})
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- data from files


def _write(tmp_path, **arrays):
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    return str(path)


def test_file_data_set_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2, 3, 3)), np.repeat(np.arange(3), 20)
    ds = make_dataset(
        {"kind": "file", "path": _write(tmp_path, x=x, y=y), "test_fraction": 0.25}, 1
    )
    assert ds.sizes["train_sample"] == 45 and ds.sizes["feature"] == 18
    assert json.loads(ds.attrs["input_shape_json"]) == [2, 3, 3] and ds.attrs["n_classes"] == 3
    np.testing.assert_allclose(ds["x_train"].values.mean(0), 0, atol=1e-12)
    given = from_file(_write(tmp_path, x=x, y=y, x_test=x[:5], y_test=y[:5]), 0.5, 0)
    assert given.sizes["test_sample"] == 5 and given.sizes["train_sample"] == 60


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((4, 2))}, r"missing array 'y'"),
        ({"x": np.zeros((4, 2)), "y": np.zeros(3)}, r"array 'y' has shape \[3\], expected \[4\]"),
        ({"x": np.full((4, 2), np.nan), "y": np.arange(4) % 2}, r"array 'x' holds NaN"),
        ({"x": np.zeros((4, 2)), "y": np.array([0, 1, -1, 0])}, r"'y': class labels must be"),
        ({"x": np.zeros((4, 2)), "y": np.array([0, 1, 0.5, 0])}, r"'y': class labels must be"),
        ({"x": np.zeros(4), "y": np.arange(4)}, r"array 'x' has shape \[4\], expected"),
        (
            {"x": np.zeros((4, 2)), "y": np.arange(4) % 2, "x_test": np.zeros((2, 3)),
             "y_test": np.zeros(2)},
            r"'x_test' has samples of shape \[3\], 'x' of \[2\]",
        ),
    ],
    ids=["missing-y", "short-y", "nan-x", "negative-label", "fractional-label", "flat-x",
         "test-shape"],
)  # fmt: skip
def test_bad_data_files_are_one_line_errors(tmp_path, arrays, message):
    path = _write(tmp_path, **arrays)
    with pytest.raises(InputError, match=message) as err:
        from_file(path, 0.5, 0)
    assert str(err.value).startswith(path) and "\n" not in str(err.value)


def test_missing_data_file(tmp_path):
    with pytest.raises(InputError, match="data file not found"):
        from_file(str(tmp_path / "nope.npz"), 0.5, 0)


# ---------------------------------------------------------------- BatchNorm


def test_batch_norm_recompute_equals_fresh_statistics_of_the_trained_network():
    """θ → outputs with statistics re-estimated on the bound subset: the trained module,
    ``reset_running_stats`` and one ``momentum=None`` pass in train mode, then eval."""
    net = build_network("cnn-c3-c4-k3-bn", (2, 6, 6), 3)
    assert net.batch_norm and {"norm0.weight", "norm1.bias"} <= set(net.shapes)
    x = _cnn_data(20)
    net.bind_data(x)
    theta = net.init(3, torch.float64) + 0.1 * torch.randn(net.n_params, dtype=torch.float64)
    reference = net.factory().double()
    reference.load_state_dict({k: v for k, v in net.unflatten(theta).items()}, strict=False)
    for m in reference.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    images = x.reshape(-1, 2, 6, 6)
    with torch.no_grad():
        reference.train()(images)  # all 20 < STATISTICS_SAMPLES samples: one pass
        expected = reference.eval()(images[:7])
    torch.testing.assert_close(net.forward(theta, x[:7]), expected, rtol=0, atol=1e-10)
    # a path's interior point gets its own statistics: not the endpoints' running ones
    mid = net.forward(torch.stack([theta, 0.5 * theta]), x[:7])
    torch.testing.assert_close(mid[0], expected, rtol=0, atol=1e-10)


def test_batch_norm_channels_permute_with_their_scale_and_shift():
    net = build_network("cnn-c3-c4-k3-bn", (2, 6, 6), 3)
    x = _cnn_data(10)
    net.bind_data(x)
    theta = net.init(1, torch.float64) + 0.1 * torch.randn(net.n_params, dtype=torch.float64)
    rng = np.random.default_rng(1)
    perm = {g: rng.permutation(len(p)) for g, p in ov.identity_permutation(net).items()}
    moved = ov.permute(net, theta, perm)
    torch.testing.assert_close(net.forward(moved, x), net.forward(theta, x), rtol=0, atol=1e-10)


def test_batch_norm_network_trains_and_needs_its_data():
    net = build_network("cnn-c3-k3-bn", (2, 6, 6), 3)
    with pytest.raises(InputError, match="BatchNorm layers: bind_data"):
        net.forward(net.init(1), _cnn_data(4).float())
    x, y = _cnn_data(24), torch.arange(24) % 3
    res = train_replicas(net, x, y, x, y, TrainSettings(epochs=3, batch_size=8, lr=1e-2), [1, 2])
    assert res.curves["train_loss"][:, -1].isfinite().all()
    assert (res.curves["train_loss"][:, -1] < res.curves["train_loss"][:, 0]).all()


def test_batch_norm_hessian_is_differentiable_through_the_statistics():
    """HVPs of a BatchNorm network (statistics recomputed at θ) by forward-over-reverse and
    by reverse-over-reverse agree, and equal the dense Hessian's products."""
    from statmech_nn.hessian import dense_hessian

    net = build_network("cnn-c2-k3-bn", (1, 4, 4), 3)
    x = torch.randn(9, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = torch.arange(9) % 3
    net.bind_data(x)
    problem = LossProblem(net, x, y, "cross_entropy")
    theta = net.init(1, torch.float64) + 0.1
    v = torch.randn(2, net.n_params, dtype=torch.float64)
    h = dense_hessian(problem.loss_fn, theta)
    for mode in ("linearize", "reverse"):
        torch.testing.assert_close(problem.hessian(theta, mode)(v), v @ h, rtol=0, atol=1e-10)
