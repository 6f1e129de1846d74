"""A job refuses an input that is not what it claims to be, in one line naming the file.

The damaged-input cases of issue 18, each run through the workflow's own
scripts in-process (a stand-in for Snakemake's ``snakemake`` object), so the
glue is tested as the workflow runs it: the message on the terminal, and no
results file where the input is refused.
"""

import contextlib
import errno
import json
import os
import re
import runpy
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import netCDF4
import numpy as np
import pytest
import torch
import xarray as xr
import yaml
from snakemake.iocontainers import Namedlist
from snakemake.utils import update_config, validate

from statmech_nn import inputs
from statmech_nn.errors import InputError
from statmech_nn.io import read_dataset

from conftest import ROOT, snakemake

TRAINED = {
    "teacher/perceptron": ("teacher", "perceptron"),
    "teacher/mlp-d1-w8": ("teacher", "mlp-d1-w8"),
    "digits/perceptron": ("digits", "perceptron"),
}
HESSIAN_OUT = "results/hessian/teacher/perceptron.nc"


@pytest.fixture(scope="module")
def config() -> dict:
    """The quick study's config as a job sees it: config.yaml, quick.yaml on top, defaults."""
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "config/quick.yaml").read_text()))
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
    return config


def job(rule: str, config: dict, inputs: dict | list, output: str, **wildcards) -> SimpleNamespace:
    """What Snakemake hands a rule's script: inputs (named or not), one output, wildcards."""
    return SimpleNamespace(
        rule=rule,
        input=Namedlist(fromdict=inputs) if isinstance(inputs, dict) else Namedlist(inputs),
        output=Namedlist([output]),
        log=Namedlist([f"results/logs/{Path(output).relative_to('results').with_suffix('.log')}"]),
        wildcards=Namedlist(fromdict=wildcards),
        threads=1,
        config=config,
    )


def run_script(script: str, smk: SimpleNamespace, **params) -> None:
    """Run ``scripts/<script>.py`` on ``smk`` as Snakemake does, undoing the glue's
    process-wide settings (stderr to the log, torch threads and determinism) afterwards."""
    smk.params = Namedlist(fromdict={"device": "cpu", "seed": 0, "network": None, **params})
    Path(smk.log[0]).parent.mkdir(parents=True, exist_ok=True)
    stderr, threads = sys.stderr, torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        runpy.run_path(str(ROOT / "scripts" / f"{script}.py"), init_globals={"snakemake": smk})
    finally:
        if sys.stderr is not stderr:
            sys.stderr.close()
        sys.stderr = stderr
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, config: dict) -> Path:
    """Data and training files of the quick study, written by the data and train scripts."""
    folder = tmp_path_factory.mktemp("made")
    with contextlib.chdir(folder):
        for name in ("teacher", "digits"):
            out = f"results/data/{name}.nc"
            smk = job("data_make", config, [], out, dataset=name)
            run_script("data", smk, spec=config["datasets"][name])
        for dataset, arch in TRAINED.values():
            data = f"results/data/{dataset}.nc"
            out = f"results/train/{dataset}/{arch}.nc"
            smk = job("train_replicas", config, [data], out, dataset=dataset, arch=arch)
            run_script("train", smk, cfg=config["train"])
    return folder


@pytest.fixture
def results(made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the made files, as the working directory of the test."""
    shutil.copytree(made / "results", tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "results"


def run_hessian(config: dict, train: str = "results/train/teacher/perceptron.nc", **params) -> None:
    """The hessian job of perceptron on teacher, reading the training file at ``train``
    (``params``: more params of the job, e.g. ``made_from``)."""
    smk = job(
        "hessian",
        config,
        {"data": "results/data/teacher.nc", "train": train},
        HESSIAN_OUT,
        dataset="teacher",
        arch="perceptron",
    )
    run_script("hessian", smk, cfg=config["hessian"], **params)


def assert_refused(capfd: pytest.CaptureFixture, rule: str, message: str) -> None:
    """The job ended with exit status 1 and ``message`` as its one line on the terminal."""
    err = capfd.readouterr().err
    assert f"statmech-nn error in rule {rule}: {message}\n" in err, err
    assert "Traceback" not in err


def assert_hessian_refused(config: dict, capfd, message: str, **params) -> None:
    """The Hessian job on the (damaged) training file ends with ``message`` and no output."""
    with pytest.raises(SystemExit, match="1"):
        run_hessian(config, **params)
    assert_refused(capfd, "hessian", message)
    assert not Path(HESSIAN_OUT).exists()


def damage(path: str, edit) -> None:
    """Edit a finished netCDF file in place (``edit(nc)`` on the open netCDF4 Dataset)."""
    with netCDF4.Dataset(path, "a") as nc:
        edit(nc)


TRAIN = "results/train/teacher/perceptron.nc"


@pytest.mark.parametrize(
    "source, message",
    [
        ("teacher/mlp-d1-w8", f"{TRAIN}: made for arch=mlp-d1-w8; expected arch=perceptron"),
        ("digits/perceptron", f"{TRAIN}: made for dataset=digits; expected dataset=teacher"),
    ],
    ids=["other-architecture", "other-dataset"],
)
def test_training_file_of_another_run_is_refused(results, config, capfd, source, message):
    shutil.copy(f"results/train/{source}.nc", TRAIN)
    assert_hessian_refused(config, capfd, message)


def test_training_file_of_another_seed_is_refused(results, config, capfd):
    """A training file made under another config seed (restored from a backup, or marked
    up to date with --touch after the seed changed) is not analysed as this study's."""
    with xr.open_dataset(TRAIN) as ds:
        assert ds.attrs["study_seed"] == 0  # the seed the job ran with is recorded
    damage(TRAIN, lambda nc: nc.setncattr("study_seed", 7))
    message = (
        f"{TRAIN}: made with the config's seed 7; this job runs with seed 0 "
        "(rerun the stage that makes it, or restore the config)"
    )
    assert_hessian_refused(config, capfd, message)


def made_from(config: dict, train: dict | None = None, data: dict | None = None) -> dict:
    """The hessian job's ``made_from`` param as the workflow builds it (workflow/rules/
    common.smk), for a config whose train and teacher sections are ``train`` and ``data``."""
    return {
        "results/data/teacher.nc": {
            "config": config["datasets"]["teacher"] if data is None else data,
            "keys": {"": "datasets.teacher"},
        },
        TRAIN: {"config": config["train"] if train is None else train, "keys": {"": "train"}},
    }


def test_training_file_made_with_another_train_config_is_refused(results, config, capfd):
    """Trained for 8 epochs; the config now asks for 40 and the file was kept (touched,
    restored, or its job left out with --allowed-rules): the Hessian job refuses it."""
    wanted = made_from(config, train={**config["train"], "epochs": 40})
    message = (
        f"{TRAIN}: made with train.epochs = 8; this job's config says 40 "
        "(rerun the stage that makes it, or restore the config)"
    )
    assert_hessian_refused(config, capfd, message, made_from=wanted)


def test_data_file_made_with_another_data_config_is_refused_by_training(results, config, capfd):
    spec = {**config["datasets"]["teacher"], "n_train": 500, "dim": 10}
    out = "results/train/teacher/mlp-d1-w8.nc"
    smk = job(
        "train_replicas",
        config,
        ["results/data/teacher.nc"],
        out,
        dataset="teacher",
        arch="mlp-d1-w8",
    )
    Path(out).unlink()
    with pytest.raises(SystemExit, match="1"):
        run_script("train", smk, cfg=config["train"], made_from=made_from(config, data=spec))
    message = (
        "results/data/teacher.nc: made with datasets.teacher.dim = 20, "
        "datasets.teacher.n_train = 200; this job's config says datasets.teacher.dim = 10, "
        "datasets.teacher.n_train = 500 (rerun the stage that makes it, or restore the config)"
    )
    assert_refused(capfd, "train_replicas", message)
    assert not Path(out).exists()


def test_files_made_with_the_config_pass(results, config):
    """The files' sections equal the job's (keys in another order, tuples for lists: the
    comparison is of the JSON the files record), and the job writes its output."""
    train = dict(reversed(list(config["train"].items())))
    train["architectures"] = tuple(train["architectures"])
    run_hessian(config, made_from=made_from(config, train=train))
    assert read_dataset(HESSIAN_OUT).attrs["rule"] == "hessian"


def test_section_differences_are_named_by_config_path():
    """Nested and missing keys, several differences, and a file that records no section
    (made before sections were compared), which passes."""
    made = {"direction": {"axes": ["random"], "resolution": 5}, "dtype": "float32"}
    wanted = {"direction": {"axes": ["hessian"], "resolution": 5}, "replicas": 2}
    where = {"": "slices", "direction": "slices.directions.hessian"}
    ds = xr.Dataset(attrs={"config_json": json.dumps(made)})
    with pytest.raises(InputError) as err:
        inputs.check_config(ds, "f.nc", {"config": wanted, "keys": where})
    assert str(err.value) == (
        'f.nc: made with slices.directions.hessian.axes = ["random"], slices.dtype = "float32", '
        "slices.replicas = (unset); this job's config says slices.directions.hessian.axes = "
        '["hessian"], slices.dtype = (unset), slices.replicas = 2 '
        "(rerun the stage that makes it, or restore the config)"
    )
    inputs.check_config(xr.Dataset(), "f.nc", {"config": wanted, "keys": where})
    inputs.check_config(ds, "f.nc", None)


def test_missing_attribute_is_one_line_naming_file_and_attribute(results, config, capfd):
    damage(TRAIN, lambda nc: nc.delncattr("loss"))
    message = (
        f"{TRAIN}: attribute(s) loss missing (expected in every file of rule train_replicas; "
        "is it from this workflow?)"
    )
    assert_hessian_refused(config, capfd, message)


def test_file_of_another_stage_at_an_input_path_is_refused(results, config, capfd):
    """Right variables, wrong writer: a training file whose rule attribute was changed."""
    damage(TRAIN, lambda nc: nc.setncattr("rule", "overlaps"))
    with pytest.raises(SystemExit, match="1"):
        run_hessian(config)
    assert_refused(
        capfd, "hessian", f"{TRAIN}: written by rule overlaps; expected rule train_replicas"
    )
    assert not Path(HESSIAN_OUT).exists()


def test_replica_with_nan_parameters_is_marked_diverged_and_the_others_analysed(
    results, config, caplog
):
    def nan_in_replica_1(nc):
        nc["params"][1, 3] = np.nan

    damage(TRAIN, nan_in_replica_1)
    run_hessian(config)
    assert "replica(s) [1] hold non-finite parameters; treated as diverged" in caplog.text
    ds = read_dataset(HESSIAN_OUT)
    assert ds["status"].values.tolist()[:2] == ["ok", "diverged"]
    lam = ds["lambda_extreme"].transpose("replica", ...).values
    assert np.isfinite(lam[0]).all() and np.isnan(lam[1]).all()


def test_every_replica_non_finite_is_one_line(results, config, capfd):
    def nan_everywhere(nc):
        nc["params"][:, 0] = np.inf

    damage(TRAIN, nan_everywhere)
    message = (
        f"{TRAIN}: every replica diverged (status or non-finite parameters); nothing to analyse"
    )
    assert_hessian_refused(config, capfd, message)


def test_non_finite_data_is_one_line(results, config, capfd):
    def nan_input(nc):
        nc["x_test"][0, 0] = np.nan

    damage("results/data/teacher.nc", nan_input)
    with pytest.raises(SystemExit, match="1"):
        run_hessian(config)
    message = "results/data/teacher.nc: x_test hold(s) NaN or infinite values"
    assert_refused(capfd, "hessian", message)


def test_full_disk_is_one_line_on_the_terminal(results, config, capfd, monkeypatch):
    def full(self, path, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    smk = job("data_make", config, [], "results/data/other.nc", dataset="other")
    with pytest.raises(SystemExit, match="1"):
        run_script("data", smk, spec=config["datasets"]["teacher"])
    assert_refused(capfd, "data_make", "no space left on device writing results/data/other.nc")
    assert not list(results.glob("data/*other*"))


def test_unreadable_provenance_is_one_line(made, tmp_path):
    path = shutil.copy(made / "results/data/teacher.nc", tmp_path / "teacher.nc")
    damage(path, lambda nc: nc.setncattr("wildcards_json", "{broken"))
    with pytest.raises(InputError, match=r"teacher\.nc: attribute wildcards_json is not a JSON"):
        inputs.read_input(path, "data_make", {"dataset": "teacher"})


@pytest.mark.slow
def test_producers_are_the_rule_graph(workflow_copy):
    """:data:`inputs.PRODUCERS` names, for every rule, exactly the rules its inputs come from."""
    dot = snakemake(workflow_copy, "--rulegraph", "--configfile", "config/quick.yaml").stdout
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', dot, re.MULTILINE))
    parents: dict[str, set[str]] = {name: set() for name in names.values() if name != "all"}
    for src, dst in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.MULTILINE):
        if names[dst] != "all":
            parents[names[dst]].add(names[src])
    expected = {rule: set(inputs.PRODUCERS.get(rule, {}).values()) for rule in parents}
    assert parents == expected


def _ising_samples(L: int, spins: np.ndarray) -> xr.Dataset:
    return xr.Dataset(
        {"samples": (("temperature", "sample", "row", "column"), spins)},
        coords={"temperature": [1.8, 2.3]},
        attrs={"L": L},
    )


def test_ising_samples_of_another_lattice_are_refused_for_an_rbm():
    """An RBM data set of L = 4 given the samples file of an L = 8 lattice (a copied or
    stale file) is refused, naming both sizes, instead of training on 64 visible units."""
    from statmech_nn.boltzmann import training_data

    spins = np.random.default_rng(1).choice([-1, 1], size=(2, 5, 8, 8)).astype(np.int8)
    spec = {"kind": "ising", "L": 4, "temperature": 2.3, "samples": 5}
    with pytest.raises(InputError, match=r"L = 8 lattice given for a data set of L = 4"):
        training_data(spec, _ising_samples(8, spins))
    spec["L"] = 8
    data, refs = training_data(spec, _ising_samples(8, spins))
    assert data.shape == (5, 64) and refs["L"] == 8


def test_ising_samples_that_are_not_spins_are_refused_for_an_rbm():
    from statmech_nn.boltzmann import training_data

    spins = np.ones((2, 5, 4, 4), dtype=np.int8)
    spins[1, 2, 0, 3] = 0  # a damaged sample at T = 2.3
    spec = {"kind": "ising", "L": 4, "temperature": 2.3, "samples": 5}
    with pytest.raises(InputError, match="values other than ±1"):
        training_data(spec, _ising_samples(4, spins))
    spec["temperature"] = 1.8  # the undamaged temperature still trains
    assert training_data(spec, _ising_samples(4, spins))[0].shape == (5, 16)


@pytest.mark.slow
def test_a_kept_training_file_of_another_config_is_refused_by_the_workflow(quick_run, tmp_path):
    """The config asks for 40 epochs after the quick study trained 8; a Hessian job run
    over the kept training file (--allowed-rules leaves training out) refuses it."""
    repo = tmp_path / "repo"
    shutil.copytree(quick_run, repo, symlinks=True)
    config = yaml.safe_load((repo / "config/quick.yaml").read_text())
    config["train"]["epochs"] = 40
    (repo / "edited.yaml").write_text(yaml.safe_dump(config))
    out = "results/hessian/digits/perceptron.nc"
    proc = snakemake(
        repo,
        out,
        "--cores", "1", "--allowed-rules", "hessian", "--forcerun", "hessian",
        "--configfile", "edited.yaml",
        check=False,
    )  # fmt: skip
    message = (
        "statmech-nn error in rule hessian: results/train/digits/perceptron.nc: made with "
        "train.epochs = 8; this job's config says 40 (rerun the stage that makes it, or "
        "restore the config)\n"
    )
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert not (repo / out).exists()
