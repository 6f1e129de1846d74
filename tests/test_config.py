"""A bad config fails before any job runs, with the schema's message naming the key."""

import pytest

from conftest import snakemake

CASES = {
    "wrong-type": (
        "train:\n  epochs: ten\n",
        ["'ten' is not of type 'integer'", "['train']['epochs']"],
    ),
    "unknown-key": ("train:\n  epoch: 3\n", ["'epoch' was unexpected", "['train']"]),
    "negative-size": (
        "datasets:\n  teacher:\n    kind: teacher_student\n    n_train: -5\n",
        ["-5 is less than the minimum of 1", "['datasets']['teacher']['n_train']"],
    ),
    "depth-zero": (
        "train:\n  architectures: [mlp-d0-w8]\n",
        ["'mlp-d0-w8' does not match", "['train']['architectures'][0]"],
    ),
    "alpha-zero": (
        "perceptron:\n  learning_curves:\n    alpha: [0.0, 1.0]\n",
        [
            "0.0 is less than or equal to the minimum of 0",
            "['perceptron']['learning_curves']['alpha'][0]",
        ],
    ),
    "bad-choice": ("train:\n  optimizer: lbfgs\n", ["'lbfgs' is not one of ['sgd', 'adam']"]),
    "train-size-zero": (
        "datasets:\n  digits:\n    kind: digits\n    train_size: 0\n",
        ["0 is less than the minimum of 1", "['datasets']['digits']['train_size']"],
    ),
    "unknown-dataset": (
        "train:\n  datasets: [mnist]\n",
        ["config train.datasets: 'mnist' is not defined under 'datasets'"],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_config_names_the_key(workflow_copy, case):
    text, expected = CASES[case]
    (workflow_copy / "bad.yaml").write_text(text)
    proc = snakemake(workflow_copy, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    for fragment in expected:
        assert fragment in out, out


DRY_RUN_EXPECTS = {
    "config/config.yaml": [
        "results/train/digits_n300/mlp-d1-w32-tanh.nc",  # the training-set-size sweep
        "results/overlaps/digits_n600/mlp-d4-w32-tanh.nc",
        "results/figures/overlap_vs_train_size.png",
    ],
    "config/quick.yaml": ["results/figures/overlap_vs_train_size.png"],
}


@pytest.mark.parametrize("config", list(DRY_RUN_EXPECTS))
def test_dry_run_of_both_configs(workflow_copy, config):
    proc = snakemake(workflow_copy, "-n", "--configfile", config)
    out = proc.stdout + proc.stderr
    assert "train_replicas" in out
    for path in DRY_RUN_EXPECTS[config]:
        assert path in out, path
