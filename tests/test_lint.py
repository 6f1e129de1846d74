"""The checks README's "Development" section promises, run by CI through pytest: ruff, ruff
format, snakefmt and snakemake --lint are clean, and every report caption is valid RST."""

import io
import subprocess
import sys

import docutils.core
import pytest

from conftest import ROOT, snakemake

CHECKS = {
    "ruff check": ["ruff", "check", "."],
    "ruff format": ["ruff", "format", "--check", "."],
    "snakefmt": ["snakefmt", "--check", "."],
}


@pytest.mark.parametrize("name", CHECKS)
def test_formatter_and_linter_are_clean(name):
    proc = subprocess.run(
        [sys.executable, "-m", *CHECKS[name]], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_is_clean(workflow_copy):
    proc = snakemake(workflow_copy, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


@pytest.mark.parametrize("caption", sorted((ROOT / "workflow/report").glob("*.rst")), ids=str)
def test_report_caption_renders_without_docutils_messages(caption):
    """``|x|`` would be an RST substitution reference: a red error box in the report."""
    warnings = io.StringIO()
    docutils.core.publish_string(
        caption.read_text(),
        writer="html",
        settings_overrides={"warning_stream": warnings, "report_level": 1},
    )
    assert warnings.getvalue() == ""
