"""The paper study at quick sizes end to end (config/examples/paper_quick.yaml, a temp copy).

Runs the `paper` target through Snakemake — the synthetic saddle, the trace estimators, the
function approximator and the CNN classifiers (trained, polished, Hessian, slices, projected
curvature) with every figure — and checks the science in the files the figures are made from.
"""

import numpy as np
import pytest
import xarray as xr
import yaml

from conftest import copy_workflow, snakemake

pytestmark = pytest.mark.slow

CONFIG = "config/examples/paper_quick.yaml"
FIGURES = [
    "paper_saddle_planes",
    "paper_saddle_curvature",
    "paper_trace_estimators",
    "paper_function_planes",
    "paper_function_curvature",
    "training_curves",
    "hessian_spectrum",
    "slices_random_vs_hessian",
    "projected_curvature",
    "curvature_vs_depth",
]


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    work = copy_workflow(tmp_path_factory.mktemp("paper") / "wf")
    snakemake(work, "--cores", "2", "paper", "--configfile", CONFIG)
    return work


def test_figures_are_made(paper_run):
    for name in FIGURES:
        png = paper_run / f"results/figures/{name}.png"
        assert png.is_file() and png.stat().st_size > 10_000, name


def test_fraction_of_negative_curvature_matches_the_exact_value(paper_run):
    with xr.open_dataset(paper_run / "results/paper/saddle.nc") as ds:
        p, se = float(ds["fraction_negative_theory"]), float(ds["fraction_negative_stderr"])
        assert 0.05 < p < 0.95  # the quick spectrum is a saddle with a non-trivial fraction
        assert se == pytest.approx(np.sqrt(p * (1 - p) / ds.sizes["trial"]))
        for variant in ("quadratic", "quartic"):
            measured = float(ds["fraction_negative"].sel(variant=variant))
            assert abs(measured - p) < 3 * se, (variant, measured, p, se)
        pp = float(ds["fraction_planes_negative_theory"])
        se_planes = np.hypot(
            float(ds["fraction_planes_negative_stderr"]),
            float(ds["fraction_planes_negative_theory_stderr"]),
        )
        for variant in ("quadratic", "quartic"):
            measured = float(ds["fraction_planes_negative"].sel(variant=variant))
            assert abs(measured - pp) < 3 * se_planes, (variant, measured, pp, se_planes)
        assert ds.attrs["rule"] == "paper_saddle"
        assert ds["loss"].dims == ("variant", "slice", "a", "b")


def test_loss_value_trace_converges_to_the_exact_trace(paper_run):
    with xr.open_dataset(paper_run / "results/paper/traces.nc") as ds:
        err = (ds["estimate"] - ds["trace"]) ** 2
        rms = np.sqrt(err.mean("trace_trial"))
        for variant in ("quadratic", "quartic"):
            r = rms.sel(variant=variant, estimator="loss_values").values
            se = ds["stderr_theory"].sel(estimator="loss_values").values
            assert r[-1] < r[0] / 4, r  # 256 probes against 1: about 16 times smaller
            assert np.all(r < 3 * se), (r, se)
        final = ds["estimate"].sel(estimator="loss_values").isel(probes=-1).mean("trace_trial")
        assert np.all(np.abs(final - ds["trace"]) < 3 * se[-1] / np.sqrt(ds.sizes["trace_trial"]))


def test_classifiers_and_function_approximator_were_analysed(paper_run):
    cfg = yaml.safe_load((paper_run / CONFIG).read_text())
    slices = paper_run / "results/slices"
    for arch in cfg["train"]["architectures"]:
        with xr.open_dataset(paper_run / f"results/train/digits_images/{arch}.nc") as ds:
            assert "polish_steps" in ds and np.isfinite(ds["grad_norm"]).all()
        for plane in ("random", "hessian"):
            with xr.open_dataset(slices / f"digits_images/{arch}/{plane}.nc") as ds:
                assert np.isfinite(ds["train_loss"]).all()
    fn = cfg["paper"]["function"]
    with xr.open_dataset(slices / f"function/{fn['architecture']}/hessian.nc") as ds:
        assert list(ds["axis_kind"].values) == ["hessian_max", "hessian_min"]
        assert np.isfinite(ds["train_loss"]).all()


def test_paper_target_leaves_nothing_to_do(paper_run):
    proc = snakemake(paper_run, "-n", "paper", "--configfile", CONFIG)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_paper_target_names_a_missing_function_data_set(paper_run):
    cfg = yaml.safe_load((paper_run / CONFIG).read_text())
    del cfg["datasets"]["function"]
    (paper_run / "no_function.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(paper_run, "-n", "paper", "--configfile", "no_function.yaml", check=False)
    assert proc.returncode != 0
    assert "config paper.function.dataset: 'function' is not defined" in proc.stdout + proc.stderr
