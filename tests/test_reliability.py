"""Reproducibility, crash safety and clear errors for the whole workflow (quick config)."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

from conftest import ROOT, copy_results, copy_workflow, snakemake

pytestmark = pytest.mark.slow
QUICK = ("--configfile", "config/quick.yaml")


def _netcdf_files(repo: Path) -> list[Path]:
    return sorted(p.relative_to(repo) for p in (repo / "results").rglob("*.nc"))


def assert_same_data(a: Path, b: Path, subset: bool = False) -> None:
    """Every netCDF output of run ``a`` has identical data variables in run ``b``
    (``subset``: ``b`` made only some of ``a``'s files; those are compared)."""
    made_a, made_b = set(_netcdf_files(a)), set(_netcdf_files(b))
    files = made_b if subset else made_a
    assert files and files <= made_a and (subset or files == made_b), made_a ^ made_b
    for rel in files:
        with xr.open_dataset(a / rel) as x, xr.open_dataset(b / rel) as y:
            xr.testing.assert_equal(x, y)  # values, dims and coords; attributes not compared


def _tree(repo: Path) -> dict[str, float]:
    skip = ("results", ".snakemake")
    return {
        str(p.relative_to(repo)): p.stat().st_mtime
        for p in repo.rglob("*")
        if p.is_file() and p.relative_to(repo).parts[0] not in skip and "__pycache__" not in p.parts
    }


def _files(repo: Path) -> set[Path]:
    return {p.relative_to(repo) for p in (repo / "results").rglob("*") if p.is_file()}


def readme_recovery_commands() -> list[list[str]]:
    """The README's crash-recovery command line, split into its snakemake calls."""
    text = (ROOT / "README.md").read_text()
    (line,) = re.findall(r"`(snakemake --unlock[^`]*--rerun-incomplete[^`]*)`", text)
    return [shlex.split(call) for call in line.split("&&")]


def test_kill_minus_9_on_one_core_then_readme_recovery_gives_the_same_arrays_and_no_leftovers(
    quick_run, tmp_path
):
    """One run covers four promises (each a full quick study, so they share it): a run with a
    non-default config killed with SIGKILL leaves only complete files; the README's recovery
    command, run verbatim, resumes it to the arrays of an uninterrupted run (``quick_run``,
    two cores) and leaves no file that run lacks; nothing is written outside results/."""
    repo = copy_workflow(tmp_path / "repo")
    before = _tree(repo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "1", *QUICK],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    while time.time() < deadline and not list((repo / "results/train").rglob("*.nc")):
        assert proc.poll() is None, "the run ended before any training output"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for path in (repo / "results").rglob("*.nc"):
        xr.open_dataset(path).close()  # whatever sits at an output path is complete
    calls = readme_recovery_commands()
    assert [call[0] for call in calls] == ["snakemake", "snakemake"]
    assert all(" ".join(QUICK) in " ".join(call) for call in calls), calls
    for call in calls:
        snakemake(repo, *call[1:])
    assert _tree(repo) == before
    assert_same_data(quick_run, repo)
    assert not _files(repo) - _files(quick_run)


@pytest.mark.parametrize(
    "target",
    [
        "results/data/../../outside.nc",
        "results/train/a/b/perceptron.nc",
        "results/train/digits/../perceptron.nc",
        "results/train/digits/mlp-d0-w8.nc",
    ],
)
def test_path_like_wildcards_make_no_job(workflow_copy, target):
    proc = snakemake(workflow_copy, target, "-n", *QUICK, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "MissingRuleException" in out, out
    assert "Job stats" not in out and "rule train_replicas" not in out


BAD_INPUTS = {  # damage: (input path, rule, its output, the one line expected)
    "truncated": (
        "results/data/teacher.nc",
        "train_replicas",
        "train/teacher/perceptron",
        "results/data/teacher.nc: not a readable netCDF file",
    ),
    "wrong-stage": (
        "results/data/teacher.nc",
        "train_replicas",
        "train/teacher/perceptron",
        "results/data/teacher.nc: expected variable(s) x_train, y_train, x_test, y_test",
    ),
    "other-architecture": (
        "results/train/teacher/perceptron.nc",
        "overlaps",
        "overlaps/teacher/perceptron",
        "results/train/teacher/perceptron.nc: made for arch=mlp-d1-w64; expected arch=perceptron",
    ),
}


@pytest.mark.parametrize("damage", BAD_INPUTS)
def test_bad_input_file_is_one_line_naming_the_file(quick_run, workflow_copy, damage):
    repo = workflow_copy
    path, rule, output, expected = BAD_INPUTS[damage]
    copy_results(quick_run, repo, "results/data/teacher.nc")  # good files, then one damaged
    bad = repo / path
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:300])
    else:
        source = "perceptron" if damage == "wrong-stage" else "mlp-d1-w64"
        bad.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(quick_run / f"results/train/teacher/{source}.nc", bad)
    target = f"results/{output}.nc"
    proc = snakemake(repo, target, "--force", "--cores", "1", *QUICK, check=False)
    assert proc.returncode != 0
    assert f"statmech-nn error in rule {rule}: {expected}" in proc.stderr
    log = (repo / f"results/logs/{output}.log").read_text()
    assert expected in log and "Traceback" not in log
    assert not (repo / target).exists()


def test_diverging_training_is_recorded_not_averaged(workflow_copy):
    (workflow_copy / "diverge.yaml").write_text(
        "train:\n  architectures: [mlp-d2-w16-tanh, mlp-d1-w8-relu]\n"
        "  optimizer: sgd\n  lr: 1.0e+30\n  loss: mse\n"
    )
    target = "results/train/teacher/mlp-d1-w8-relu.nc"
    snakemake(workflow_copy, target, "--cores", "2", *QUICK, "diverge.yaml")
    with xr.open_dataset(workflow_copy / target) as ds:
        assert set(ds["status"].values) == {"diverged"}
    log = (workflow_copy / "results/logs/train/teacher/mlp-d1-w8-relu.log").read_text()
    assert "diverged at epoch" in log
