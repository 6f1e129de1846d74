"""The RBM training Dataset's attrs and reference labels (issue 19): what a reader of the
file needs to know the run (its hyperparameters) and the meaning of each reference line."""

import math

import numpy as np
import pytest
import torch

from statmech_nn import boltzmann


@pytest.fixture(scope="module")
def run():
    data = boltzmann.bars_and_stripes(2)
    return boltzmann.train(
        data, "cd", hidden=2, replicas=2, epochs=2, batch_size=2, learning_rate=0.05,
        momentum=0.5, k=3, chains=4, init_std=0.01, seed=1, weight_decay=0.001,
    )  # fmt: skip


def test_attrs_record_the_hyperparameters(run):
    want = {
        "method": "cd", "k": 3, "n_visible": 4, "n_hidden": 2, "learning_rate": 0.05,
        "schedule": "constant", "momentum": 0.5, "weight_decay": 0.001, "chains": 0,
    }  # fmt: skip
    assert {key: run.attrs[key] for key in want} == want
    assert run.attrs["n_samples"] == run.attrs["n_distinct"] == 6  # 2×2 bars and stripes


def test_reference_lines_are_labelled(run):
    assert float(run.uniform_loglik) == pytest.approx(-4 * math.log(2), rel=1e-15)
    assert run.uniform_loglik.attrs == {
        "long_name": "log-likelihood of the uniform model, -n_v ln 2",
        "units": "nat",
    }
    assert float(run.best_loglik) == pytest.approx(-math.log(6), rel=1e-12)
    assert run.loglik.attrs["long_name"] == "exact mean log-likelihood per sample"


def _bernoulli_data(seed=0, samples=40, n_v=5, low=0.15, high=0.8):
    """Binary data with unequal visible means (none at 0 or 1, so the clamp does not act)."""
    gen = torch.Generator().manual_seed(seed)
    p = torch.linspace(low, high, n_v, dtype=torch.float64)
    data = (torch.rand(samples, n_v, generator=gen, dtype=torch.float64) < p).to(torch.float64)
    m = data.mean(0)
    assert ((m > 0.01) & (m < 0.99)).all() and len(set(m.tolist())) > 1
    return data


def test_visible_biases_start_at_the_log_odds_of_the_data_means():
    """With W ≈ 0 the RBM at epoch 0 is the independent Bernoulli model with the data's
    marginals m: its log-likelihood is mean_s Σ_i [v_i ln m_i + (1 − v_i) ln(1 − m_i)]."""
    data = _bernoulli_data()
    run = boltzmann.train(
        data, "exact", hidden=3, replicas=2, epochs=1, batch_size=10, learning_rate=0.01,
        momentum=0.0, k=1, chains=1, init_std=1e-9, seed=0,
    )  # fmt: skip
    m = data.mean(0)
    want = float((data * m.log() + (1 - data) * (1 - m).log()).sum(1).mean())
    np.testing.assert_allclose(run.loglik.isel(epoch=0).values, want, rtol=0, atol=1e-6)
    assert want > -5 * math.log(2) + 0.05  # better than uniform: the marginals were learnt


@pytest.mark.parametrize("method", ["pcd", "cd"])
def test_same_seed_same_run_whatever_the_global_torch_rng(method):
    """Every random draw (initial chains, weights, batch order, Gibbs steps) comes from the
    seeded generator: the global torch RNG state must not matter. Weights of order 1 and
    means near ½ keep the conditionals away from 0 and 1, so that chains started apart
    do not coalesce at once under the shared uniform draws."""
    data = _bernoulli_data(1, n_v=8, low=0.3, high=0.7)
    kw = {
        "hidden": 6, "replicas": 2, "epochs": 2, "batch_size": 8, "learning_rate": 0.05,
        "momentum": 0.5, "k": 1, "chains": 8, "init_std": 1.0, "seed": 4,
    }  # fmt: skip
    torch.manual_seed(0)
    a = boltzmann.train(data, method, **kw)
    torch.manual_seed(12345)
    b = boltzmann.train(data, method, **kw)
    for name in ("loglik", "weights", "visible_bias", "negative_samples"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
