"""The slice and curvature stages' study functions on files made by the training and Hessian
studies (fast: a small MLP on a small teacher–student set). The workflow tests reach them too,
but only with ``-m slow``; mutation testing found their config handling unchecked here."""

import numpy as np
import pytest
import torch
import yaml

from statmech_nn import configcheck, hessian, landscape
from statmech_nn.data import make_dataset
from statmech_nn.errors import InputError
from statmech_nn.train import train_study

from conftest import ROOT

QUICK = configcheck.check(
    yaml.safe_load((ROOT / "config/quick.yaml").read_text()),
    configcheck.load_schema(ROOT / "workflow/schemas/config.schema.yaml"),
)
ARCH = "mlp-d1-w6-tanh"


@pytest.fixture(scope="module")
def stages(one_thread):
    spec = {"kind": "teacher_student", "n_train": 60, "n_test": 40, "dim": 5,
            "teacher": "perceptron", "label_noise": 0.0}  # fmt: skip
    data = make_dataset(spec, seed=3)
    cfg = {**QUICK["train"], "replicas": 3, "epochs": 3, "batch_size": 20, "dtype": "float64"}
    train = train_study(data, ARCH, cfg, seed=1)
    train.attrs["dataset"] = "teacher"
    hcfg = {**QUICK["hessian"], "dense_max_params": 10, "ggn": False, "slq_probes": 2}
    return data, train, hessian.hessian_study(data, train, hcfg, seed=2)


def _slice(stages, direction, with_hessian=True):
    data, train, hess = stages
    return landscape.slice_study(
        train, data, direction, 2, "float64", 16, seed=4, hessian=hess if with_hessian else None
    )


def test_hessian_plane_uses_the_hessian_file_and_needs_it(stages):
    plane = {"axes": ["hessian_max", "hessian_min"], "ranges": [[-1e-3, 1e-3], [-1e-3, 1e-3]],
             "resolution": 3, "normalisation": "unit"}  # fmt: skip
    ds = _slice(stages, plane)
    assert ds["train_loss"].shape == (2, 3, 3) and np.isfinite(ds["train_loss"]).all()
    # the curvature at the centre along each axis is the Hessian file's λmax and λmin
    want = stages[2]["lambda_extreme"].isel(replica=slice(0, 2)).transpose("replica", "which")
    np.testing.assert_allclose(ds["centre_curvature"].values, want.values, rtol=1e-4, atol=1e-6)
    with pytest.raises(InputError, match="need the Hessian stage's eigenvectors"):
        _slice(stages, plane, with_hessian=False)


def test_pca_plane_reads_the_training_snapshots(stages):
    plane = {"axes": ["pca1", "pca2"], "ranges": [[-1, 1], [-1, 1]], "resolution": 3,
             "normalisation": "global"}  # fmt: skip
    ds = _slice(stages, plane, with_hessian=False)
    assert np.isfinite(ds["train_loss"]).all()
    assert (ds["explained_variance_ratio"].sum("component") <= 1 + 1e-12).all()
    assert (ds["explained_variance_ratio"].isel(component=0) > 0.3).all()


def test_random_plane_is_filter_normalised_by_default(stages):
    """Without ``normalisation`` a random axis is filter-normalised (Li et al.): |d| = |θ|
    with biases left out, so the recorded direction length is |θ| without its biases."""
    plane = {"axes": ["random", "random"], "ranges": [[-1, 1], [-1, 1]], "resolution": 3}
    ds = _slice(stages, plane, with_hessian=False)
    train = stages[1]
    theta = torch.as_tensor(train["params"].isel(replica=slice(0, 2)).values)
    weights = np.isin(train["param_tensor"].values, ["layer0.weight", "layer1.weight"])
    want = theta[:, torch.as_tensor(weights)].norm(dim=-1).numpy()
    got = ds["direction_norm"].isel(axis=0).values
    np.testing.assert_allclose(got, want, rtol=1e-10)
    unit = _slice(stages, {**plane, "normalisation": "unit"}, with_hessian=False)
    np.testing.assert_allclose(unit["direction_norm"].values, 1.0, rtol=1e-12)


def test_curvature_study_compares_with_the_hutchinson_trace_and_its_error(stages):
    data, train, hess = stages
    assert "trace_hutchinson_stderr" in hess and "trace_dense" not in hess  # P > 10: no dense H
    ds = landscape.curvature_study(train, data, hess, 2, 16, 1e-3, 16, seed=5)
    want = hess["trace_hutchinson_stderr"].isel(replica=slice(0, 2)).values
    assert (want > 0).all()
    np.testing.assert_allclose(ds["trace_stderr"].values, want, rtol=1e-12)
    assert np.isfinite(ds["z_mean_curvature"]).all()
