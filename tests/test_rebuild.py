"""A config edit plans exactly the jobs whose outputs it changes (dry runs after the quick study).

Params of every rule are the values its output depends on, keys sorted (issue 15): adding an
architecture or a train.runs block retrains nothing that exists, the seed reruns every job,
figure style only figures, hessian.k only the Hessian and what reads it, and reordering keys
nothing.
"""

import re
from pathlib import Path

import pytest
import yaml

from conftest import snakemake

pytestmark = pytest.mark.slow

QUICK = "config/quick.yaml"


def planned(repo: Path, config: dict) -> dict[str, set[str]]:
    """Outputs a dry run with ``config`` (written to a file) plans, by rule."""
    (repo / "edited.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        out = snakemake(repo, "-n", "--configfile", "edited.yaml").stdout
    finally:
        (repo / "edited.yaml").unlink()
    jobs: dict[str, set[str]] = {}
    for rule, outputs in re.findall(
        r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    output: (.*)$", out, re.M
    ):
        jobs.setdefault(rule, set()).update(outputs.split(", "))
    return jobs


def quick(repo: Path) -> dict:
    return yaml.safe_load((repo / QUICK).read_text())


def every_output(repo: Path) -> set[str]:
    out = snakemake(repo, "--configfile", QUICK, "--summary").stdout
    return {line.split("\t")[0] for line in out.splitlines()[1:] if "\t" in line}


def test_adding_an_architecture_plans_only_its_jobs_and_their_readers(quick_run):
    config = quick(quick_run)
    config["train"]["architectures"].append("mlp-d1-w8")
    jobs = planned(quick_run, config)
    new = "mlp-d1-w8"
    assert jobs.pop("train_replicas") == {
        f"results/train/{d}/{new}.nc" for d in ("digits", "teacher")
    }
    assert jobs.pop("hessian") == {f"results/hessian/digits/{new}.nc"}
    assert jobs.pop("overlaps") == {f"results/overlaps/{d}/{new}.nc" for d in ("digits", "teacher")}
    assert set(jobs) == {
        "figure_training_curves",
        "figure_hessian_spectrum",
        "figure_curvature_vs_depth",
        "figure_overlap_distributions",
        "figure_overlap_vs_depth",
        "figure_overlap_vs_train_size",
    }


def test_a_train_runs_block_plans_only_its_own_pairs(quick_run):
    """A new block trains its pairs alone; a block's lr retrains its pairs alone (the main
    pairs' params hold no train.runs)."""
    config = quick(quick_run)
    config["train"]["runs"].append({"datasets": ["digits_images"], "architectures": ["cnn-c4-k3"]})
    jobs = planned(quick_run, config)
    assert jobs.pop("train_replicas") == {"results/train/digits_images/cnn-c4-k3.nc"}
    assert jobs.pop("overlaps") == {"results/overlaps/digits_images/cnn-c4-k3.nc"}
    assert set(jobs) == {
        "figure_training_curves",
        "figure_overlap_distributions",
        "figure_overlap_vs_depth",
        "figure_overlap_vs_train_size",
    }
    config = quick(quick_run)
    config["train"]["runs"][0]["lr"] = 0.02
    jobs = planned(quick_run, config)
    assert jobs.pop("train_replicas") == {"results/train/digits_images/cnn-c16-c32-k3-bn.nc"}
    assert jobs.pop("overlaps") == {"results/overlaps/digits_images/cnn-c16-c32-k3-bn.nc"}
    assert all(rule.startswith("figure_") for rule in jobs), jobs


def test_changing_the_seed_reruns_every_job(quick_run):
    config = quick(quick_run)
    config["seed"] = 1
    jobs = planned(quick_run, config)
    assert set().union(*jobs.values()) == every_output(quick_run)


def test_figure_style_reruns_figures_only(quick_run):
    config = quick(quick_run)
    config["figures"]["dpi"] = 300
    jobs = planned(quick_run, config)
    assert jobs and all(rule.startswith("figure_") for rule in jobs), jobs
    assert len(jobs) == 15


def test_hessian_k_reruns_the_hessian_and_its_readers_only(quick_run):
    config = quick(quick_run)
    config["hessian"]["k"] = 4
    jobs = planned(quick_run, config)
    small = "digits_images_small/cnn-c8-k3"  # a train.runs pair on a hessian.datasets entry
    assert jobs.pop("hessian") == {
        f"results/hessian/digits/{a}.nc" for a in config["train"]["architectures"]
    } | {f"results/hessian/{small}.nc"}
    pairs = ("digits/mlp-d2-w16-tanh", small)
    assert jobs.pop("slices_evaluate") == {
        f"results/slices/{p}/{d}.nc"
        for p in pairs
        for d in ("hessian", "hessian_max_line", "hessian_min_line")
    }
    assert jobs.pop("slices_curvature_stats") == {f"results/slices/{p}/curvature.nc" for p in pairs}
    # the turnable views of the one plane that reads the Hessian (not random, not pca)
    assert jobs.pop("views_plane") == {
        f"results/views/{p}/hessian.{ext}" for p in pairs for ext in ("html", "vts", "json")
    }
    assert set(jobs) == {
        "figure_hessian_spectrum",
        "figure_curvature_vs_depth",
        "figure_slices_random_vs_hessian",
        "figure_slices_1d",
        "figure_projected_curvature",
    }


def reversed_keys(value):
    """Every mapping with its keys in reverse order (as a YAML formatter might reorder them)."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def test_reordering_keys_of_every_section_plans_nothing(quick_run):
    config = reversed_keys(quick(quick_run))
    assert list(config) == list(reversed(list(quick(quick_run))))
    assert planned(quick_run, config) == {}
