"""A change to library code a job runs reruns that job, and only the jobs that run it.

Unit tests edit a copy of the package in a temporary folder and compare
:func:`statmech_nn.codedigest.code_digest` before and after; the workflow test
edits a module in a copy of the finished quick study and asks Snakemake which
jobs it would run.
"""

import re
import shutil
from pathlib import Path

import pytest

from statmech_nn.codedigest import code_digest

from conftest import ROOT, snakemake


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and the scripts, to edit."""
    shutil.copytree(ROOT / "src/statmech_nn", tmp_path / "src/statmech_nn")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    return tmp_path


def digest(tree: Path, script: str, only=None) -> str:
    return code_digest(tree / "scripts" / script, tree / "src/statmech_nn", only)


def append(tree: Path, module: str, text: str) -> None:
    path = tree / "src/statmech_nn" / module
    path.write_text(path.read_text() + text)


def test_a_module_the_script_imports_changes_its_digest(tree):
    """scripts/train.py -> statmech_nn.train -> statmech_nn.nets -> nets/mlp.py."""
    before = digest(tree, "train.py")
    append(tree, "nets/mlp.py", "\n_EDITED = 1\n")
    assert digest(tree, "train.py") != before


def test_an_unrelated_module_leaves_it(tree):
    before = {script: digest(tree, script) for script in ("train.py", "ising_lattice.py")}
    append(tree, "plots/ising.py", "\n_EDITED = 1\n")
    append(tree, "boltzmann.py", "\n_EDITED = 1\n")  # imports ising; ising does not import it
    assert {script: digest(tree, script) for script in before} == before
    assert digest(tree, "boltzmann_train.py") != digest(tree, "ising_lattice.py")


def test_comments_and_docstrings_leave_it(tree):
    before = digest(tree, "train.py")
    path = tree / "src/statmech_nn/nets/mlp.py"
    source = path.read_text()
    path.write_text('"""Another docstring."""\n# a comment\n' + source.split('"""', 2)[2])
    assert digest(tree, "train.py") == before


def test_a_lazy_relative_import_counts(tmp_path):
    """An import inside a function, relative to the package, is followed; the package's
    __init__ files are part of what importing a module runs."""
    pkg = tmp_path / "statmech_nn"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub/__init__.py").write_text("")
    (pkg / "sub/a.py").write_text("def f():\n    from .b import g\n    return g()\n")
    (pkg / "sub/b.py").write_text("def g():\n    return 1\n")
    (pkg / "other.py").write_text("X = 1\n")
    script = tmp_path / "script.py"
    script.write_text("from statmech_nn.sub import a\n")
    before = code_digest(script, pkg)
    (pkg / "other.py").write_text("X = 2\n")
    assert code_digest(script, pkg) == before
    for edited in ("sub/b.py", "sub/__init__.py", "__init__.py"):
        (pkg / edited).write_text((pkg / edited).read_text() + "\nY = 3\n")
        assert code_digest(script, pkg) != before, edited
        before = code_digest(script, pkg)


def test_a_figure_follows_its_own_plot_module_only(tree):
    only = {"statmech_nn.plots": ["training_curves", "apply_style", "save"]}
    before = digest(tree, "figure.py", only)
    append(tree, "plots/ising.py", "\n_EDITED = 1\n")
    assert digest(tree, "figure.py", only) == before
    append(tree, "plots/training.py", "\n_EDITED = 1\n")
    assert digest(tree, "figure.py", only) != before
    before = digest(tree, "figure.py", only)
    append(tree, "plots/common.py", "\n_EDITED = 1\n")  # styles every figure
    assert digest(tree, "figure.py", only) != before


@pytest.mark.slow
def test_a_library_edit_reruns_exactly_the_jobs_that_run_it(quick_run, tmp_path):
    """After the quick study, an edit of boltzmann.py plans every RBM training, for its
    params changed (the `library` digest), and the figure that reads them; nothing else."""
    repo = tmp_path / "repo"
    shutil.copytree(quick_run, repo, symlinks=True)  # results, .snakemake; mtimes kept
    assert planned_jobs(repo) == []
    module = repo / "src/statmech_nn/boltzmann.py"
    module.write_text(module.read_text() + "\n_EDITED = 1\n")
    jobs = planned_jobs(repo)
    assert {rule for rule, _ in jobs} == {"boltzmann_train", "figure_rbm_loglik"}
    rbm = [reason for rule, reason in jobs if rule == "boltzmann_train"]
    assert len(rbm) == len(list((repo / "results/boltzmann").glob("*.nc")))
    assert all(reason.startswith("Params have changed since last execution") for reason in rbm)


def planned_jobs(repo: Path) -> list[tuple[str, str]]:
    """(rule, reason) of every job a dry run of the quick study plans, rule `all` left out.

    (Snakemake 9.27's `--list-changes params` lists every output, changed or not.)
    """
    out = snakemake(repo, "-n", "--configfile", "config/quick.yaml").stdout
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    reason: (.*)$", out, re.M)
    return [(rule, reason) for rule, reason in jobs if rule != "all"]
