"""The quick study end to end in a temporary copy of the repository."""

import pytest
import xarray as xr
from conftest import snakemake

pytestmark = pytest.mark.slow


def test_lint_is_clean(workflow_copy):
    proc = snakemake(workflow_copy, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


def test_quick_run_makes_every_declared_output(quick_run):
    proc = snakemake(quick_run, "--configfile", "config/quick.yaml", "--summary")
    rows = [line.split("\t") for line in proc.stdout.splitlines()[1:] if "\t" in line]
    assert rows, proc.stdout
    for row in rows:
        assert (quick_run / row[0]).is_file(), row
    names = {row[0] for row in rows}
    assert {"results/figures/training_curves.pdf", "results/figures/training_curves.png"} <= names
    assert "results/train/digits/mlp-d1-w64.nc" in names


def test_second_run_has_nothing_to_do(quick_run):
    proc = snakemake(quick_run, "-n", "--configfile", "config/quick.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_quick_digits_mlp_beats_90_percent_and_files_are_labelled(quick_run):
    with xr.open_dataset(quick_run / "results/train/digits/mlp-d1-w64.nc") as ds:
        assert float(ds["test_accuracy"].isel(epoch=-1).min()) > 0.9
        assert ds.attrs["rule"] == "train_replicas"
        assert ds["train_loss"].attrs["units"] == "nats"
        assert set(ds["status"].values) == {"ok"}
