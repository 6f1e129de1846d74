"""The RBM training Dataset's attrs and reference labels (issue 19): what a reader of the
file needs to know the run (its hyperparameters) and the meaning of each reference line."""

import math

import pytest

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
