"""train.runs (issue 14): (data set, architecture) pairs trained beside the main product
train.datasets x train.architectures, each with its block's settings; the later stages work on
the trained pairs (statmech_nn.runs)."""

import copy

import pytest
import yaml

from statmech_nn import configcheck, runs
from statmech_nn.configcheck import ConfigError

from conftest import ROOT

SCHEMA = configcheck.load_schema(ROOT / "workflow/schemas/config.schema.yaml")
QUICK = yaml.safe_load((ROOT / "config/quick.yaml").read_text())
CNN, SMALL = "cnn-c16-c32-k3-bn", "cnn-c8-k3"
MLPS = ["perceptron", "mlp-d1-w64", "mlp-d2-w16-tanh"]


def checked(**train) -> dict:
    """config/quick.yaml with the given train keys, checked (defaults filled)."""
    config = copy.deepcopy(QUICK)
    config["train"].update(train)
    return configcheck.check(config, SCHEMA)


def test_quick_trains_the_main_product_and_the_cnn_blocks_only():
    config = checked()
    assert runs.trained_pairs(config) == [
        *[("digits", a) for a in MLPS],
        *[("teacher", a) for a in MLPS],
        ("digits_images", CNN),
        ("digits_images_small", SMALL),
    ]
    assert runs.trained_datasets(config)[2:] == ["digits_images", "digits_images_small"]
    assert runs.trained_architectures(config) == [*MLPS, CNN, SMALL]


def test_a_block_overrides_only_its_own_pairs_settings():
    config = checked()
    cnn, mlp = runs.settings(config, "digits_images", CNN), runs.settings(config, "digits", MLPS[0])
    assert (cnn["lr"], mlp["lr"]) == (0.01, 0.003)
    assert (cnn["polish"]["method"], mlp["polish"]["method"]) == ("none", "lbfgs")
    assert {k: v for k, v in cnn.items() if k not in ("lr", "polish")} == {
        k: v for k, v in mlp.items() if k not in ("lr", "polish")
    }
    # the main pairs' settings are the train section less the lists: adding or editing a block
    # changes no main pair's params, so it reruns no other training
    expected = {k: v for k, v in config["train"].items() if k not in runs.LISTS}
    assert mlp == expected
    blocks = copy.deepcopy(QUICK["train"]["runs"])
    blocks[0] = {"datasets": ["digits_images"], "architectures": [CNN], "epochs": 3}
    edited = checked(runs=blocks)
    assert runs.settings(edited, "digits", MLPS[0]) == mlp
    assert runs.settings(edited, "digits_images", CNN)["epochs"] == 3
    assert runs.source_key(edited, "digits_images", CNN, "epochs") == "train.runs[0].epochs"
    assert runs.source_key(edited, "digits_images", CNN, "lr") == "train.lr"


def test_stages_select_the_trained_pairs_in_their_lists():
    config = checked()
    slices = config["slices"]
    assert runs.select(config, slices["datasets"], slices["architectures"]) == [
        ("digits", "mlp-d2-w16-tanh"),
        ("digits_images_small", SMALL),
    ]
    assert runs.select(config, config["hessian"]["datasets"]) == [
        *[("digits", a) for a in MLPS],
        ("digits_images_small", SMALL),
    ]


def test_null_stage_lists_mean_every_trained_data_set_and_architecture():
    config = copy.deepcopy(QUICK)
    config["slices"]["datasets"] = config["slices"]["architectures"] = None
    config["hessian"]["datasets"] = None
    config = configcheck.check(config, SCHEMA)
    assert config["slices"]["datasets"] == config["hessian"]["datasets"]
    assert config["hessian"]["datasets"] == [
        "digits",
        "teacher",
        "digits_images",
        "digits_images_small",
    ]
    assert config["slices"]["architectures"] == [*MLPS, CNN, SMALL]
    # the product of the two lists holds cross pairs nobody trains: they are not sliced
    picked = runs.select(config, config["slices"]["datasets"], config["slices"]["architectures"])
    assert picked == runs.trained_pairs(config)


def test_empty_main_lists_leave_only_the_blocks():
    config = copy.deepcopy(QUICK)
    config["train"]["datasets"] = []
    config["hessian"]["datasets"] = config["slices"]["datasets"] = None
    config["slices"]["architectures"] = None
    config = configcheck.check(config, SCHEMA)
    assert runs.trained_pairs(config) == [("digits_images", CNN), ("digits_images_small", SMALL)]
    assert config["train"]["architectures"] == MLPS  # kept, but crossed with no data set
    assert config["hessian"]["datasets"] == ["digits_images", "digits_images_small"]
    assert config["slices"]["architectures"] == [CNN, SMALL]


def test_a_block_pair_is_sized_before_any_job():
    big = "cnn-c1024-c1024-c1024-k9"
    with pytest.raises(ConfigError) as err:
        checked(runs=[{"datasets": ["digits_images_small"], "architectures": [SMALL, big]}])
    assert str(err.value).startswith(
        f"config train.replicas x train.runs[0].architectures {big!r} on "
        "datasets.digits_images_small: "
        "needs about "
    )
