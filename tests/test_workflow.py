"""The quick study end to end in a temporary copy of the repository."""

import json
import re
import subprocess
import sys

import pytest
import xarray as xr

from conftest import ROOT, snakemake

pytestmark = pytest.mark.slow


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


def test_quick_cnn_on_digits_images_beats_90_percent_for_every_replica(quick_run):
    """Issue 14: a CNN on the digits images, trained by a train.runs block with its own lr."""
    with xr.open_dataset(quick_run / "results/train/digits_images/cnn-c16-c32-k3-bn.nc") as ds:
        accuracy = ds["test_accuracy"].isel(epoch=-1)
        assert accuracy.sizes["replica"] == 4 and set(ds["status"].values) == {"ok"}
        assert float(accuracy.min()) > 0.9, accuracy.values
        assert json.loads(ds.attrs["config_json"])["lr"] == 0.01  # the block's, not train.lr
        assert json.loads(ds.attrs["input_shape_json"]) == [1, 8, 8]
    with xr.open_dataset(quick_run / "results/train/digits/mlp-d1-w64.nc") as ds:
        assert json.loads(ds.attrs["config_json"])["lr"] == 0.003
    # the small CNN's pair through every stage its data set is listed for
    pair = "digits_images_small/cnn-c8-k3"
    for path in (f"hessian/{pair}.nc", f"slices/{pair}/hessian.nc", f"overlaps/{pair}.nc"):
        assert (quick_run / "results" / path).is_file(), path


def _planned_rules(proc) -> set[str]:
    """Rules a run plans, less the target-only rules `all` and `figures`."""
    found = set(re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, flags=re.M))
    return found - {"all", "figures"}


def test_figures_target_rebuilds_figures_only(quick_run, tmp_path):
    """With every PNG gone, the `figures` target plans each figure rule and nothing else
    (a dry run: the quick run itself already rendered every figure once)."""
    figures = quick_run / "results/figures"
    moved = {png: tmp_path / png.name for png in figures.glob("*.png")}
    for png, aside in moved.items():
        png.rename(aside)
    try:
        proc = snakemake(quick_run, "figures", "-n", "--configfile", "config/quick.yaml")
    finally:
        for png, aside in moved.items():
            aside.rename(png)
    planned = _planned_rules(proc)
    assert planned == {f"figure_{png.stem}" for png in moved}, planned


def test_report_builds_from_the_quick_run(quick_run):
    snakemake(quick_run, "--configfile", "config/quick.yaml", "--report", "results/report.html")
    html = (quick_run / "results/report.html").read_text(errors="replace")
    assert "training_curves.png" in html
    # every plane slice's turnable view, embedded with its caption (rule views_plane)
    for plane in ("random", "hessian", "pca"):
        assert f'"results/views/digits/mlp-d2-w16-tanh/{plane}.html"' in html
    assert "The loss on a plane through each trained replica" in html
    assert "Training curves of R independently initialised" in html
    assert "system-message" not in html and "System Message" not in html  # docutils errors
    # overlap_distributions' caption with its pipes literal (captions are JSON in the page)
    assert json.dumps("⟨θa, θb⟩ / (|θa| |θb|)")[1:-1] in html


def test_readme_xarray_example_runs_on_the_quick_study(quick_run):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Open a result") :]
    code = section[section.index("```python") + len("```python") : section.index("```\n", 10)]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=quick_run, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
