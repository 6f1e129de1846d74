"""A config edit plans exactly the jobs whose outputs it changes (dry runs after the quick study).

Params of every rule are the values its output depends on, keys sorted (issue 15): adding an
architecture retrains nothing that exists, the seed reruns every job, figure style only
figures, hessian.k only the Hessian and what reads it, and reordering keys nothing.
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
    assert jobs.pop("hessian") == {
        f"results/hessian/digits/{a}.nc" for a in config["train"]["architectures"]
    }
    slices = "results/slices/digits/mlp-d2-w16-tanh"
    assert jobs.pop("slices_evaluate") == {
        f"{slices}/{d}.nc" for d in ("hessian", "hessian_max_line", "hessian_min_line")
    }
    assert jobs.pop("slices_curvature_stats") == {f"{slices}/curvature.nc"}
    # the turnable views of the one plane that reads the Hessian (not random, not pca)
    assert jobs.pop("views_plane") == {
        f"results/views/digits/mlp-d2-w16-tanh/hessian.{ext}" for ext in ("html", "vts", "json")
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
