"""A researcher's own network through the whole study: config/examples/custom_model.yaml
(models/example_resnet.py, a residual CNN with BatchNorm, and the built-in CNN family on
digits served as images), train → Hessian → slices → curvature → overlaps → figures."""

import json

import numpy as np
import pytest
import xarray as xr

from conftest import snakemake

pytestmark = pytest.mark.slow

CONFIG = "config/examples/custom_model.yaml"
FIGURES = (
    "training_curves",
    "hessian_spectrum",
    "slices_random_vs_hessian",
    "slices_1d",
    "projected_curvature",
    "overlap_distributions",
)


def test_custom_model_study_end_to_end(workflow_copy):
    targets = [f"results/figures/{name}.png" for name in FIGURES]
    snakemake(workflow_copy, *targets, "--cores", "2", "--configfile", CONFIG)
    results = workflow_copy / "results"
    with xr.open_dataset(results / "train/digits_images/resnet.nc") as ds:
        record = json.loads(ds.attrs["network_json"])
        assert record["factory"] == "example_resnet:build" and record["kwargs"]["blocks"] == 2
        assert json.loads(ds.attrs["input_shape_json"]) == [1, 8, 8]
        assert ds.attrs["batch_norm_statistics"].startswith("recomputed")
        assert set(ds["status"].values) == {"ok"}
        assert float(ds["test_accuracy"].isel(epoch=-1).min()) > 0.8
    with xr.open_dataset(results / "train/digits_images/cnn-c8-c16-k3.nc") as ds:
        assert float(ds["test_accuracy"].isel(epoch=-1).min()) > 0.5
    with xr.open_dataset(results / "hessian/digits_images/resnet.nc") as ds:
        lam = ds["lambda_extreme"].values
        assert np.isfinite(lam).all() and (lam[:, 0] > lam[:, 1]).all()
    with xr.open_dataset(results / "overlaps/digits_images/resnet.nc") as ds:
        assert ds.attrs["alignment"].startswith("skipped")
        np.testing.assert_array_equal(
            ds["q"].sel(alignment="raw"), ds["q"].sel(alignment="aligned")
        )
    with xr.open_dataset(results / "overlaps/digits_images/cnn-c8-c16-k3.nc") as ds:
        assert ds.attrs["alignment"].startswith("weight matching")
        raw, aligned = (ds["q_pair"].sel(alignment=a).values for a in ("raw", "aligned"))
        assert (aligned >= raw - 1e-9).all() and (aligned > raw).any()
    with xr.open_dataset(results / "slices/digits_images/resnet/hessian.nc") as ds:
        assert np.isfinite(ds["train_loss"].values).all()
    for name in FIGURES:
        assert (results / f"figures/{name}.png").stat().st_size > 10_000
