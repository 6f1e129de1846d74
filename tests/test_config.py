"""A bad config is refused before any job with one line naming the key (statmech_nn.configcheck);
a short config stands alone on the schema's defaults."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from statmech_nn import configcheck, preflight
from statmech_nn.configcheck import ConfigError

from conftest import ROOT, snakemake

SCHEMA = configcheck.load_schema(ROOT / "workflow/schemas/config.schema.yaml")
QUICK = yaml.safe_load((ROOT / "config/quick.yaml").read_text())
NAN, INF = float("nan"), float("inf")


def mutated(changes: dict) -> dict:
    """config/quick.yaml with ``changes`` ({"a.b.0": value}) applied."""
    config = copy.deepcopy(QUICK)
    for path, value in changes.items():
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = config
        for part in parents:
            node = node[part]
        node[last] = value
    return config


# Issue 18, "Why", first three bullets (and the schema's own messages kept short): the change
# to config/quick.yaml and the one line that refuses it.
REFUSED = {
    "nan-barrier": (
        {"overlaps.barrier_threshold": NAN},
        "config overlaps.barrier_threshold: nan is not allowed (allowed: a finite number)",
    ),
    "nan-slice-range": (
        {"slices.directions.random.ranges": [[NAN, 1], [-1, 1]]},
        "config slices.directions.random.ranges[0][0]: nan is not allowed "
        "(allowed: a finite number)",
    ),
    "inf-temperature": (
        {"ising.temperatures": [1.8, INF]},
        "config ising.temperatures[1]: inf is not allowed (allowed: a finite number)",
    ),
    "nan-temperature": (
        {"ising.temperatures": [NAN, 2.3]},
        "config ising.temperatures[0]: nan is not allowed (allowed: a finite number)",
    ),
    "plane-in-figure-lines": (
        {"slices.figure_lines": ["random_line", "hessian"]},
        "config slices.figure_lines[1]: 'hessian' is not a line slice: "
        "slices.directions.hessian.axes has 2 (allowed: names with 1 axis)",
    ),
    "line-in-figure-planes": (
        {"slices.figure_planes": ["segment"]},
        "config slices.figure_planes[0]: 'segment' is not a plane slice: "
        "slices.directions.segment.axes has 1 (allowed: names with 2 axes)",
    ),
    "huge-epochs": (
        {"train.epochs": 10**12},
        "config train.epochs: 1000000000000 is not allowed "
        "(allowed: an integer, finite, >= 1 and <= 100000)",
    ),
    "huge-n-train": (
        {"datasets.teacher.n_train": 10**12},
        "config datasets.teacher.n_train: 1000000000000 is not allowed "
        "(allowed: an integer, finite, >= 1 and <= 100000)",
    ),
    "huge-resolution": (
        {"slices.directions.random.resolution": 10**12},
        "config slices.directions.random.resolution: 1000000000000 is not allowed "
        "(allowed: an integer, finite, >= 3 and <= 1001)",
    ),
    "huge-measurements": (
        {"ising.measurements": 10**12},
        "config ising.measurements: 1000000000000 is not allowed "
        "(allowed: an integer, finite, >= 2 and <= 1000000)",
    ),
    "huge-t-points": (
        {"overlaps.t_points": 10**12},
        "config overlaps.t_points: 1000000000000 is not allowed "
        "(allowed: an integer, finite, >= 3 and <= 10001)",
    ),
    "huge-N": (
        {"perceptron.learning_curves.N": 10**12},
        "config perceptron.learning_curves.N: 1000000000000 is not allowed "
        "(allowed: an integer, finite, >= 2 and <= 10000)",
    ),
    "huge-batch-size": (
        {"train.batch_size": 10**12},
        "config train.batch_size: 1000000000000 is not allowed "
        "(allowed: an integer, finite, >= 1 and <= 100000)",
    ),
    "huge-lattice": (
        {"ising.L": [1000000]},
        "config ising.L[0]: 1000000 is not allowed "
        "(allowed: an integer, finite, >= 2 and <= 512, a multiple of 2)",
    ),
    "huge-mlp": (
        {"train.architectures": ["mlp-d2-w16-tanh", "mlp-d100000-w100000"]},
        "config train.architectures[1]: 'mlp-d100000-w100000' is not allowed "
        "(allowed: depth <= 16, width or channels <= 4096, kernel <= 15)",
    ),
    "huge-replicas": (
        {"train.replicas": 10**12},
        "config train.replicas: 1000000000000 is not allowed "
        "(allowed: an integer, finite, >= 1 and <= 1024)",
    ),
    "training-memory": (
        {"train.replicas": 1024, "train.architectures": ["mlp-d2-w16-tanh", "mlp-d16-w4096"]},
        "config train.replicas x train.architectures 'mlp-d16-w4096' on datasets.digits: needs "
        "about 9130 GiB in one job (allowed: at most 24 GiB; fewer replicas or snapshots, a "
        "smaller network or data set)",
    ),
    "hessian-memory": (
        {"train.architectures": ["mlp-d2-w16-tanh", "mlp-d12-w2048"]},
        "config hessian x train.architectures 'mlp-d12-w2048' on datasets.digits: needs about "
        "69 GiB in one job (allowed: at most 24 GiB; fewer hessian.replicas or SLQ probes and "
        "steps, a smaller network)",
    ),
    "perceptron-memory": (
        {"perceptron.learning_curves.N": 10000, "perceptron.learning_curves.alpha": [0.5, 10]},
        "config perceptron.learning_curves.N x alpha x n_trials: needs about 179 GiB in one job "
        "(allowed: at most 24 GiB; a smaller N, lower loads or fewer trials)",
    ),
    "hessian-samples-beyond-data": (
        {"hessian.samples": 2000},
        "config hessian.samples: 2000 is more than the 1347 training samples of datasets.digits "
        "(allowed: at most 1347, or null for all)",
    ),
    "batch-larger-than-data": (
        {"train.batch_size": 500},
        "config train.batch_size: 500 is more than the 200 training samples of "
        "datasets.teacher (allowed: at most 200)",
    ),
    "undefined-hessian-dataset": (
        {"hessian.datasets": ["nope"]},
        "config hessian.datasets[0]: 'nope' is not defined under datasets "
        "(defined: digits, digits_images, digits_images_small, "
        "teacher)",
    ),
    "path-in-hessian-datasets": (
        {"hessian.datasets": ["../../x"]},
        "config hessian.datasets[0]: '../../x' is not allowed "
        "(allowed: a string, matching ^[A-Za-z][A-Za-z0-9_]*$)",
    ),
    "more-slice-replicas-than-trained": (
        {"slices.replicas": 10},
        "config slices.replicas: 10 is more than the 4 replicas train.replicas trains "
        "(allowed: at most 4)",
    ),
    "more-hessian-replicas-than-trained": (
        {"hessian.replicas": 5},
        "config hessian.replicas: 5 is more than the 4 replicas train.replicas trains "
        "(allowed: at most 4)",
    ),
    "empty-directions": (
        {"slices.directions": {}},
        "config slices.directions: {} is not allowed (allowed: at least 1 entries)",
    ),
    "top-level-typo": (
        {"sed": 1},
        "config sed: unknown key (allowed at the top level: boltzmann, datasets, device, "
        "figures, hessian, hopfield, ising, models, overlaps, paper, perceptron, seed, slices, "
        "threads, train)",
    ),
    "wrong-type": (
        {"train.epochs": "ten"},
        "config train.epochs: 'ten' is not allowed (allowed: an integer, finite, >= 1 and "
        "<= 100000)",
    ),
    "float-for-integer": (
        {"train.epochs": 10.0},
        "config train.epochs: 10.0 is not allowed (allowed: an integer, finite, >= 1 and "
        "<= 100000)",
    ),
    "bad-choice": (
        {"train.optimizer": "lbfgs"},
        "config train.optimizer: 'lbfgs' is not allowed (allowed: one of sgd, adam)",
    ),
    "unknown-dataset": (
        {"train.datasets": ["digits", "mnist"]},
        "config train.datasets[1]: 'mnist' is not defined under datasets "
        "(defined: digits, digits_images, digits_images_small, "
        "teacher)",
    ),
    "untrained-slice-architecture": (
        {"slices.architectures": ["mlp-d3-w8"]},
        "config slices.architectures[0]: 'mlp-d3-w8' is not trained by train.datasets x "
        "train.architectures or train.runs (trained: perceptron, mlp-d1-w64, mlp-d2-w16-tanh, "
        "cnn-c16-c32-k3-bn, cnn-c8-k3)",
    ),
    # train.runs blocks (issue 14): pairs beside the main product, checked like it
    "cnn-on-flat-features": (
        {"train.architectures": ["perceptron", "cnn-c8-k3"]},
        "config train.architectures[1]: the CNN 'cnn-c8-k3' needs images, but datasets.digits "
        "serves flat features (set datasets.<name>.images: true for digits, or train the CNN in "
        "a train.runs block on image data)",
    ),
    "cnn-block-on-teacher": (
        {"train.runs.0.datasets": ["digits_images", "teacher"]},
        "config train.runs[0].architectures[0]: the CNN 'cnn-c16-c32-k3-bn' needs images, but "
        "datasets.teacher serves flat features (set datasets.<name>.images: true for digits, or "
        "train the CNN in a train.runs block on image data)",
    ),
    "pair-in-two-products": (
        {
            "train.runs": [
                *QUICK["train"]["runs"],
                {"datasets": ["teacher"], "architectures": ["mlp-d1-w64"], "lr": 0.01},
            ]
        },
        "config train.runs[2]: teacher/mlp-d1-w64 is trained by train.datasets x "
        "train.architectures already (allowed: each data set and architecture pair in one "
        "product)",
    ),
    "undefined-block-dataset": (
        {"train.runs.0.datasets": ["images"]},
        "config train.runs[0].datasets[0]: 'images' is not defined under datasets "
        "(defined: digits, digits_images, digits_images_small, "
        "teacher)",
    ),
    "block-lr-bounded-like-train-lr": (
        {"train.runs.0.lr": -0.01},
        "config train.runs[0].lr: -0.01 is not allowed (allowed: a number, finite, > 0)",
    ),
    "block-batch-beyond-its-data": (
        {"train.runs.0.batch_size": 2000},
        "config train.runs[0].batch_size: 2000 is more than the 1347 training samples of "
        "datasets.digits_images (allowed: at most 1347)",
    ),
    "block-sets-a-shared-key": (
        {"train.runs.0.replicas": 8},
        "config train.runs[0].replicas: unknown key (allowed at train.runs[0]: architectures, "
        "batch_size, datasets, epochs, lr, momentum, optimizer, polish, weight_decay)",
    ),
    "empty-block": (
        {"train.runs.0.architectures": []},
        "config train.runs[0].architectures: [] is not allowed (allowed: a list, 1 to 64 items)",
    ),
    "nothing-to-train": (
        {"train.datasets": [], "train.runs": []},
        "config train: nothing to train (allowed: non-empty train.datasets and "
        "train.architectures, or at least one train.runs block)",
    ),
    "untrained-hessian-dataset": (
        {"hessian.datasets": ["digits", "digits_images", "teacher"], "train.datasets": ["digits"]},
        "config hessian.datasets[2]: 'teacher' is not trained by train.datasets x "
        "train.architectures or train.runs (trained: digits, digits_images, digits_images_small)",
    ),
    "slices-select-no-pair": (
        {"slices.datasets": ["digits_images"], "slices.architectures": ["mlp-d2-w16-tanh"]},
        "config slices: no trained pair has a data set in slices.datasets (digits_images) and an "
        "architecture in slices.architectures (mlp-d2-w16-tanh)",
    ),
    "train-size-too-large": (
        {"datasets.digits.train_size": 5000},
        "config datasets.digits.train_size: 5000 is more than the 1347 training samples of "
        "this entry (allowed: at most 1347)",
    ),
    # a wide network whose training and Hessian fit (float32, few Lanczos vectors) but whose
    # slice and overlap jobs would not
    "slices-memory": (
        {
            **(
                WIDE := {
                    "train.architectures": ["perceptron", "mlp-d2-w16-tanh", "mlp-d3-w4096"],
                    "train.snapshots": 2,
                    "hessian.dtype": "float32",
                    "hessian.slq_probes": 2,
                    "hessian.slq_steps": 5,
                    "hessian.k": 1,
                    "hessian.trace_probes": 2,
                }
            ),
            "slices.architectures": ["mlp-d3-w4096"],
            "slices.replicas": 4,
            "slices.curvature.directions": 64,
        },
        "config slices x train.architectures 'mlp-d3-w4096' on datasets.digits: needs about "
        "36 GiB in one job (allowed: at most 24 GiB; fewer slices.replicas, axes or curvature "
        "directions, a smaller network)",
    ),
    "overlaps-memory": (
        {**WIDE, "train.replicas": 12, "overlaps.t_points": 41, "overlaps.dtype": "float64"},
        "config overlaps x train.replicas x train.architectures 'mlp-d3-w4096' on "
        "datasets.digits: needs about 53 GiB in one job (allowed: at most 24 GiB; fewer "
        "train.replicas or overlaps.t_points, a smaller network)",
    ),
    "paper-more-negative-than-eigenvalues": (
        {"paper": {"saddle": {"n_params": 50, "n_negative": 60}}},
        "config paper.saddle.n_negative: 60 is more than n_params (50)",
    ),
    "paper-range-upside-down": (
        {"paper": {"saddle": {"positive": [2.0, 1.0]}}},
        "config paper.saddle.positive: [2.0, 1.0] is not [low, high]",
    ),
    "paper-function-of-wrong-kind": (
        {"paper": {"function": {"dataset": "teacher"}}},
        "config paper.function.dataset: datasets.teacher is of kind 'teacher_student', "
        "expected 'function'",
    ),
    "paper-huge-saddle": (
        {"paper": {"saddle": {"n_params": 10**6}}},
        "config paper.saddle.n_params: 1000000 is not allowed "
        "(allowed: an integer, finite, >= 2 and <= 8000)",
    ),
    "range-per-axis": (
        {"slices.directions.segment.ranges": [[0, 1], [0, 1]]},
        "config slices.directions.segment.ranges: 2 range(s) for 1 axes "
        "(allowed: one [low, high] per entry of axes)",
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_bad_config_is_refused_in_one_line_naming_the_key(case):
    changes, message = REFUSED[case]
    with pytest.raises(ConfigError) as err:
        configcheck.check(mutated(changes), SCHEMA)
    assert str(err.value) == message


def test_schema_defaults_alone_make_a_consistent_study():
    """An empty config is the schema's defaults: slices.directions' default passes its own
    minProperties, and the defaults that follow other keys (null) resolve to them."""
    config = configcheck.check({}, SCHEMA)
    assert set(config["slices"]["directions"]) == {
        "random",
        "hessian",
        "random_line",
        "hessian_min_line",
        "segment",
    }
    assert config["slices"]["figure_planes"] == ["random", "hessian"]
    assert config["slices"]["figure_lines"] == ["random_line", "hessian_min_line", "segment"]
    assert config["slices"]["architectures"] == config["train"]["architectures"]
    assert config["hessian"]["datasets"] == config["train"]["datasets"] == ["digits"]
    assert config["datasets"] == {
        "digits": {"kind": "digits", "images": False, "test_fraction": 0.25, "train_size": None}
    }


def test_one_architecture_config_takes_every_other_value_from_the_schema():
    config = configcheck.check({"train": {"architectures": ["mlp-d1-w16"]}}, SCHEMA)
    defaults = configcheck.check({}, SCHEMA)
    assert config["train"]["architectures"] == config["slices"]["architectures"] == ["mlp-d1-w16"]
    for key in defaults:
        if key not in ("train", "slices"):
            assert config[key] == defaults[key], key
    assert config["train"]["epochs"] == 20  # the schema's default, not config.yaml's 40


def test_both_shipped_configs_pass_and_quick_stands_alone():
    """quick.yaml checked alone equals the study it made when merged into config.yaml (which
    only added data-set entries no job of the quick study uses)."""
    full = configcheck.check(yaml.safe_load((ROOT / "config/config.yaml").read_text()), SCHEMA)
    quick = configcheck.check(copy.deepcopy(QUICK), SCHEMA)
    assert full["train"]["datasets"] == ["digits", "digits_n300", "digits_n600"]
    assert set(quick["datasets"]) == {"digits", "digits_images", "digits_images_small", "teacher"}
    assert quick["train"]["epochs"] == 8 and quick["ising"]["L"] == [4, 8]


def test_canonical_params_do_not_depend_on_key_order():
    a = {"b": {"y": 1, "x": [2, {"q": 1, "p": 2}]}, "a": 0.5}
    b = {"a": 0.5, "b": {"x": [2, {"p": 2, "q": 1}], "y": 1}}
    assert repr(configcheck.canonical(a)) == repr(configcheck.canonical(b))
    assert repr(configcheck.canonical(a)) == "{'a': 0.5, 'b': {'x': [2, {'p': 2, 'q': 1}], 'y': 1}}"


@pytest.mark.parametrize("arch", ["perceptron", "mlp-d1-w16", "mlp-d3-w7-relu"])
def test_parameter_count_matches_the_model(arch):
    from statmech_nn.nets import MLP as Model

    assert preflight.parameter_count(arch, 64, 10) == Model.build(arch, 64, 10).n_params


# ---- through snakemake: the message on the terminal, nothing written

CLI_CASES = ["nan-barrier", "plane-in-figure-lines", "huge-mlp", "path-in-hessian-datasets"]


@pytest.mark.parametrize("case", CLI_CASES)
def test_snakemake_refuses_before_any_job(workflow_copy, case):
    changes, message = REFUSED[case]
    (workflow_copy / "bad.yaml").write_text(yaml.safe_dump(mutated(changes)))
    proc = snakemake(workflow_copy, "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"statmech-nn: {message}", proc.stderr
    assert not (workflow_copy / "results").exists()


def test_configfile_is_not_merged_into_config_yaml(workflow_copy):
    """`--configfile X` is X plus the schema's defaults: config.yaml's data sets are not planned."""
    (workflow_copy / "one.yaml").write_text("train: {architectures: [mlp-d1-w16]}\n")
    out = snakemake(workflow_copy, "-n", "--configfile", "one.yaml").stdout
    assert "results/train/digits/mlp-d1-w16.nc" in out
    assert "results/slices/digits/mlp-d1-w16/segment.nc" in out
    assert "digits_n300" not in out and "mlp-d1-w32-tanh" not in out


DRY_RUN_EXPECTS = {
    "config/config.yaml": [
        "results/train/digits_n300/mlp-d1-w32-tanh.nc",  # the training-set-size sweep
        "results/overlaps/digits_n600/mlp-d4-w32-tanh.nc",
        "results/figures/overlap_vs_train_size.png",
    ],
    "config/quick.yaml": [
        "results/figures/overlap_vs_train_size.png",
        # train.runs pairs, through the stages whose lists name their data set
        "results/overlaps/digits_images/cnn-c16-c32-k3-bn.nc",
        "results/hessian/digits_images_small/cnn-c8-k3.nc",
        "results/slices/digits_images_small/cnn-c8-k3/curvature.nc",
        "results/views/digits_images_small/cnn-c8-k3/hessian.html",
    ],
}
# pairs of no product (a CNN on flat features, an MLP on the CNNs' images) and stages whose
# lists leave a trained pair out
DRY_RUN_LEAVES_OUT = {
    "config/config.yaml": ["cnn-"],
    "config/quick.yaml": [
        "results/train/teacher/cnn-",
        "results/train/digits/cnn-",
        "results/train/digits_images/mlp-",
        "results/train/digits_images_small/cnn-c16",
        "results/hessian/digits_images/",
        "results/slices/digits_images/",
        "results/slices/digits/cnn-",
    ],
}


@pytest.mark.parametrize("config", list(DRY_RUN_EXPECTS))
def test_dry_run_of_both_configs(workflow_copy, config):
    proc = snakemake(workflow_copy, "-n", "--configfile", config)
    out = proc.stdout + proc.stderr
    assert "train_replicas" in out
    for path in DRY_RUN_EXPECTS[config]:
        assert path in out, path
    for path in DRY_RUN_LEAVES_OUT[config]:
        assert path not in out, path


def test_default_run_uses_config_yaml(workflow_copy: Path):
    out = snakemake(workflow_copy, "-n").stdout
    assert "results/train/digits_n600/mlp-d1-w128-tanh.nc" in out


def test_schema_repeats_the_architecture_pattern_of_arch_py():
    """The schema cannot import arch.py's regex: each architecture pattern it writes out
    must be arch.SCHEMA_PATTERN, so a new family option (as -pool was) changes both."""
    from statmech_nn import arch

    text = (ROOT / "workflow/schemas/config.schema.yaml").read_text()
    found = re.findall(r'pattern: "(\^\(mlp-d[^"]*)"', text)
    assert len(found) == 2
    assert set(found) == {arch.SCHEMA_PATTERN}
    assert re.fullmatch(arch.SCHEMA_PATTERN, "cnn-c16-c32-k3-pool-relu-bn")
    assert not re.fullmatch(arch.SCHEMA_PATTERN, "cnn-c16-k3-bn-pool")
