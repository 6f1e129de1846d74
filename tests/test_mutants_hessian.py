"""Hessian operators mutation testing found untested (issue 19): the single-vector GGN product."""

import numpy as np
import pytest
import torch
import xarray as xr
from torch.func import jacrev

from statmech_nn import hessian as hs
from statmech_nn.errors import InputError
from statmech_nn.nets import MLP as Model
from statmech_nn.train import per_sample_loss

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_ggn_vp_is_jt_h_j_times_v(loss):
    """G·v = Jᵀ(∇²_f ℓ)J v against the dense Jacobians, for a v that is not a basis vector."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(12, 3, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (12,), generator=gen)
    model = Model.build("mlp-d1-w5-tanh", 3, 3)
    theta = 2 * model.init(5, F64)

    def outputs(th):
        return model.forward(th, x)

    def output_loss(f):
        return per_sample_loss(f, y, loss).mean(-1)

    j = jacrev(outputs)(theta)
    hl = torch.func.hessian(output_loss)(outputs(theta))
    g = torch.einsum("acp,acbd,bdq->pq", j, hl, j)
    v = torch.randn(model.n_params, generator=gen, dtype=F64)
    got = hs.ggn_vp(outputs, output_loss, theta, v)
    torch.testing.assert_close(got, g @ v, rtol=1e-10, atol=1e-12)
    assert float(v @ got) > 0  # G ⪰ 0 for a convex loss of the outputs


def study_inputs(n: int) -> tuple[xr.Dataset, xr.Dataset]:
    """A data file of ``n`` random 3-feature samples of 2 classes and a training file of two
    mlp-d1-w3-tanh replicas (twice their initial scale), as the Hessian study reads them."""
    gen = torch.Generator().manual_seed(11)
    data = xr.Dataset(
        {
            "x_train": (("train_sample", "feature"), torch.randn(n, 3, generator=gen).numpy()),
            "y_train": (("train_sample",), torch.randint(0, 2, (n,), generator=gen).numpy()),
        },
        attrs={"n_classes": 2},
    )
    model = Model.build("mlp-d1-w3-tanh", 3, 2)
    params = torch.stack([model.init(s, F64) * 2 for s in range(2)]).numpy()
    trained = xr.Dataset(
        {"params": (("replica", "param"), params),
         "status": (("replica",), np.array(["ok", "ok"], dtype=object))},
        coords={"replica": np.arange(2)},
        attrs={"arch": "mlp-d1-w3-tanh", "loss": "cross_entropy", "dataset": "toy"},
    )  # fmt: skip
    return data, trained


def test_study_on_a_subset_draws_it_from_the_study_seed():
    """hessian.samples: a fixed random subset, the same for the same seed, another for another."""
    data, trained = study_inputs(40)
    cfg = {
        "datasets": ["toy"], "hvp": "reverse", "dtype": "float64", "samples": 15,
        "replicas": None, "k": 2, "tol": 1e-10, "ggn": False, "ggn_tol": 1e-3, "ncv": None,
        "maxiter": 500, "dense_max_params": 1000, "trace_probes": 4, "fd_step": 1e-3,
        "slq_probes": 2, "slq_steps": 10, "density_sigma": 0.02, "density_points": 50,
        "tau": 0.01, "memory_mb": 50,
    }  # fmt: skip
    a, again = hs.hessian_study(data, trained, cfg, seed=0), hs.hessian_study(data, trained, cfg, 0)
    other = hs.hessian_study(data, trained, cfg, seed=1)
    np.testing.assert_array_equal(a.lambda_extreme.values, again.lambda_extreme.values)
    assert not np.allclose(a.lambda_extreme.values, other.lambda_extreme.values, rtol=1e-6)


@pytest.mark.parametrize("k", [0, 6])
def test_k_out_of_range_names_the_largest_allowed_k(k):
    h = torch.diag(torch.arange(1.0, 7.0, dtype=F64))
    with pytest.raises(InputError, match=rf"k = {k} must be between 1 and P − 1 = 5$"):
        hs.eigenpairs(lambda v: v @ h, 6, k, "top")


@pytest.mark.parametrize("descending", [True, False])
def test_pairs_that_did_not_converge_sort_last(descending):
    """A NaN pair (an unconverged Lanczos vector) goes after every finite eigenvalue,
    whichever end of the spectrum is asked for; finite ones are sorted, vectors follow."""
    from statmech_nn.hessian.eigen import _ordered

    values = torch.tensor([0.5, float("nan"), 2.0, -1.0], dtype=F64)
    vectors = torch.eye(4, dtype=F64) * torch.tensor([1.0, 1.0, -1.0, 1.0], dtype=F64)[:, None]
    residuals = torch.tensor([1e-9, float("nan"), 2e-9, 3e-9], dtype=F64)
    got = _ordered(values, vectors, residuals, 7, descending)
    finite = [2.0, 0.5, -1.0] if descending else [-1.0, 0.5, 2.0]
    assert got.values[:3].tolist() == finite and got.values[3].isnan()
    assert got.residuals[3].isnan() and got.hvps == 7
    # the vector of λ = 2 had its pivot negative: it comes back sign-fixed, still e₂
    rows = [int(v.abs().argmax()) for v in got.vectors]
    assert rows == ([2, 0, 3, 1] if descending else [3, 0, 2, 1])
    assert (got.vectors.sum(-1) == 1.0).all()
