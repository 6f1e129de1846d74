"""Shared fixtures: float64 by default in unit tests and a temporary copy of the workflow."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "scripts", "config", "src", "models", "pyproject.toml")


def copy_workflow(dest: Path) -> Path:
    """Copy what the workflow needs (no results, no .snakemake) into ``dest``."""
    dest.mkdir(parents=True)
    for name in WORKFLOW_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def copy_results(src: Path, dest: Path, *paths: str) -> None:
    """Copy finished outputs (modification times kept) from one workflow copy to another,
    so that a test can start from them instead of recomputing them."""
    for rel in paths:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dest / rel)


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake (the same Python environment as the tests) in ``workdir``."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny tensor tests: OpenMP threads spin-wait for a
    core when the machine is shared, which made such tests several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "repo")


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full run of config/quick.yaml in a temporary copy, shared by the workflow tests."""
    repo = copy_workflow(tmp_path_factory.mktemp("quick") / "repo")
    snakemake(repo, "--cores", "2", "--configfile", "config/quick.yaml")
    return repo
