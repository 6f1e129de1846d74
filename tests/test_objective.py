"""The training objective J = L + (wd/2)|θ|² in every analysing stage (issue 16 item 1).

Each stage's J is checked against autograd of J written out once here: the polished
gradient, the Hessian problem's products and dense Hessian, the grids' values (fast and
generic paths), the overlap paths; and wd = 0 leaves every number as it was.
"""

import numpy as np
import pytest
import torch

from statmech_nn import landscape as ls
from statmech_nn.hessian import dense_hessian
from statmech_nn.hessian.problem import LossProblem
from statmech_nn.losses import per_sample_loss
from statmech_nn.nets import build_network
from statmech_nn.objective import Objective
from statmech_nn.overlap import path_losses

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
WD = 0.03


def _setup(arch="mlp-d1-w3-tanh", n=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (n,), generator=gen)
    net = build_network(arch, (4,), 3)
    theta = torch.stack([net.init(s, F64) for s in (1, 2)])
    return net, theta, x, y


def _objective(net, x, y, wd):
    """J written out: mean cross-entropy plus (wd/2)|θ|²."""

    def fn(theta):
        loss = per_sample_loss(net.forward(theta, x), y, "cross_entropy").mean(-1)
        return loss + 0.5 * wd * (theta**2).sum(-1)

    return fn


def test_objective_names_itself_and_is_the_loss_without_weight_decay():
    assert Objective("cross_entropy", 0.001).name == "cross_entropy + 0.5*0.001*|theta|^2"
    assert Objective("cross_entropy", 0.001).attrs() == {
        "objective": "cross_entropy + 0.5*0.001*|theta|^2",
        "weight_decay": 0.001,
    }
    assert Objective.of({"loss": "mse"}) == Objective("mse", 0.0)
    value, theta = torch.randn(3, dtype=F64), torch.randn(3, 5, dtype=F64)
    plain = Objective("cross_entropy")
    assert plain.value(value, theta) is value and plain.gradient(theta, theta) is theta
    assert plain.label == "training loss" and Objective("mse", 1.0).label == "training objective"


def test_hessian_problem_is_the_hessian_of_the_objective_in_one_and_in_many_chunks():
    net, theta, x, y = _setup()
    want = torch.stack([torch.func.hessian(_objective(net, x, y, WD))(t) for t in theta])
    v = torch.randn(2, 3, net.n_params, dtype=F64, generator=torch.Generator().manual_seed(1))
    for chunk in (None, 7):
        problem = LossProblem(net, x, y, "cross_entropy", sample_chunk=chunk, weight_decay=WD)
        for mode in ("reverse", "fresh"):
            got = problem.hessian(theta, mode)(v)
            torch.testing.assert_close(got, v @ want.mT, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            problem.loss_fn(theta), _objective(net, x, y, WD)(theta), rtol=1e-13
        )
        dense = dense_hessian(problem.loss_fn, theta)
        torch.testing.assert_close(dense, want, rtol=1e-10, atol=1e-12)
        # the Gauss-Newton part of the penalty is itself: G_J = G_L + wd·I
        plain = LossProblem(net, x, y, "cross_entropy", sample_chunk=chunk)
        torch.testing.assert_close(
            problem.ggn(theta, "fresh")(v), plain.ggn(theta, "fresh")(v) + WD * v
        )


@pytest.mark.parametrize("arch", ["mlp-d2-w3-tanh", "cnn-c2-k3"])
def test_grids_and_paths_add_the_penalty_of_every_point(arch):
    """Fast (MLP) and generic grid paths, lines and overlap paths: J at every point formed."""
    if arch.startswith("cnn"):
        net = build_network(arch, (1, 3, 3), 3)
        gen = torch.Generator().manual_seed(0)
        x, y = torch.randn(12, 9, generator=gen, dtype=F64), torch.randint(0, 3, (12,))
        theta = torch.stack([net.init(s, F64) for s in (1, 2)])
    else:
        net, theta, x, y = _setup(arch)
    gen = torch.Generator().manual_seed(3)
    d = torch.randn(2, 2, net.n_params, generator=gen, dtype=F64) * 0.2
    coords = torch.cartesian_prod(torch.linspace(-1, 1, 3), torch.linspace(-0.5, 2, 4)).to(F64)
    points = theta[:, None] + torch.einsum("nk,rkp->rnp", coords, d)
    want = _objective(net, x, y, WD)(points)
    for fast in (True, False):
        got = ls.evaluate_grid(net, theta, d, coords, x, y, "cross_entropy", fast=fast,
                               weight_decay=WD).loss  # fmt: skip
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        plain = ls.evaluate_grid(net, theta, d, coords, x, y, "cross_entropy", fast=fast)
        same = ls.evaluate_grid(net, theta, d, coords, x, y, "cross_entropy", fast=fast,
                                weight_decay=0.0)  # fmt: skip
        assert torch.equal(plain.loss, same.loss)
    t = torch.linspace(0, 1, 5, dtype=F64)
    a, b = np.array([0]), np.array([1])
    path = path_losses(net, theta, a, b, theta[1:2], t, x, y, "cross_entropy", 8.0,
                       weight_decay=WD)  # fmt: skip
    on_path = (1 - t)[:, None] * theta[0] + t[:, None] * theta[1]
    torch.testing.assert_close(path[0], _objective(net, x, y, WD)(on_path), rtol=1e-12, atol=0)


def test_slice_records_the_objective_its_gradient_and_curvature():
    net, theta, x, y = _setup()
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    kw = {"axes": ["random"], "ranges": [[-0.4, 0.4]], "resolution": 5, "seed": 2}
    ds = ls.slice_dataset(net, theta, data, "cross_entropy", weight_decay=WD, **kw)
    plain = ls.slice_dataset(net, theta, data, "cross_entropy", **kw)
    assert ds.attrs["objective"] == f"cross_entropy + 0.5*{WD:g}*|theta|^2"
    assert plain.attrs["weight_decay"] == 0.0
    centre = ds.train_loss.sel(a=0.0).values
    np.testing.assert_allclose(centre, _objective(net, x, y, WD)(theta), rtol=1e-13)
    # the test loss is the data loss alone; the train loss differs from L by the penalty
    np.testing.assert_array_equal(ds.test_loss.values, plain.test_loss.values)
    g = torch.func.grad(lambda t: _objective(net, x, y, WD)(t).sum())(theta)
    np.testing.assert_allclose(ds.grad_norm.values, g.norm(dim=-1), rtol=1e-12)
    # curvature per |d|² gains exactly wd (up to the second difference's O(h²) error)
    extra = ds.centre_curvature.values - plain.centre_curvature.values
    np.testing.assert_allclose(extra, WD, rtol=1e-6)
