"""The workflow reused as a Snakemake module, the way its users would (issue 15)."""

import re
import shutil

import pytest
import xarray as xr

from conftest import snakemake

pytestmark = pytest.mark.slow

OUTER = """\
configfile: "study.yaml"


module statmech:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from statmech
"""


def test_quick_study_runs_through_a_module(quick_run, tmp_path):
    """A workflow in another folder imports every rule of this one with the quick config; from
    the quick study's finished outputs it makes what is missing (one simulation and its figure)
    through the module's rules and scripts, and then has nothing left to do."""
    outer = tmp_path / "outer"
    shutil.copytree(quick_run / "results", outer / "results")  # modification times kept
    shutil.copy2(quick_run / "config/quick.yaml", outer / "study.yaml")
    (outer / "Snakefile").write_text(OUTER.format(snakefile=quick_run / "Snakefile"))
    for path in ("hopfield/energy_descent.nc", "figures/hopfield_energy.pdf"):
        (outer / "results" / path).unlink()

    proc = snakemake(outer, "--cores", "2", "all")
    ran = set(re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, flags=re.M))
    assert ran == {"hopfield_energy_descent", "figure_hopfield_energy", "all"}, ran
    with xr.open_dataset(outer / "results/hopfield/energy_descent.nc") as ds:
        assert ds.attrs["rule"] == "hopfield_energy_descent"
    assert (outer / "results/figures/hopfield_energy.pdf").is_file()
    again = snakemake(outer, "-n", "all")
    assert "Nothing to be done" in again.stdout + again.stderr
