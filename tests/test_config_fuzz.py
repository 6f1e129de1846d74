"""Property test: random mutations of config/quick.yaml are refused in one line naming a key,
or accepted with every number finite and every training, Hessian, slice, overlap and RBM job
(of every trained pair, train.runs blocks included) within the memory budget."""

import copy
import math
import random
import re

import yaml

from statmech_nn import configcheck, preflight, runs
from statmech_nn.errors import ConfigError

from conftest import ROOT

SCHEMA = configcheck.load_schema(ROOT / "workflow/schemas/config.schema.yaml")
QUICK = yaml.safe_load((ROOT / "config/quick.yaml").read_text())
MUTATIONS = 300
BUDGET = preflight.MEMORY_BUDGET_GIB * 2**30
VALUES = [
    float("nan"),
    float("inf"),
    -float("inf"),
    0,
    -1,
    1,
    2,
    0.5,
    -0.5,
    10**12,
    1e300,
    "ten",
    "../../x",
    "",
    None,
    True,
    [],
    {},
    [float("nan")],
    "mlp-d100000-w100000",
    "mlp-d3-w8",
]
MESSAGE = re.compile(r"^config (?P<key>[A-Za-z_][\w]*)[\w.\[\]]* ?")


def leaves(node, path=()):
    """Every path into the config: mapping keys, list items and the values under them."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from leaves(value, (*path, i))


def mutate(config: dict, rng: random.Random) -> dict:
    """One random change: a new value at a path, a deleted or misspelt key, a grown list."""
    config = copy.deepcopy(config)
    path = rng.choice([p for p in leaves(config) if p])
    parent = config
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = rng.choice(["value", "value", "value", "delete", "typo", "grow"])
    if action == "delete":
        del parent[last]
    elif action == "typo" and isinstance(parent, dict):
        parent[f"{last}x"] = parent.pop(last)
    elif action == "grow" and isinstance(parent[last], list) and parent[last]:
        parent[last].append(copy.deepcopy(parent[last][-1]) if rng.random() < 0.5 else 10**9)
    else:
        parent[last] = copy.deepcopy(rng.choice(VALUES))
    return config


def finite(node) -> bool:
    if isinstance(node, float):
        return math.isfinite(node)
    if isinstance(node, dict):
        return all(finite(v) for v in node.values())
    if isinstance(node, list):
        return all(finite(v) for v in node)
    return True


def test_random_mutations_are_refused_naming_a_key_or_accepted_within_bounds():
    rng = random.Random(20261202)
    refused = accepted = 0
    for _ in range(MUTATIONS):
        config = mutate(QUICK, rng)
        try:
            checked = configcheck.check(copy.deepcopy(config), SCHEMA)
        except ConfigError as err:
            message = str(err)
            match = MESSAGE.match(message)
            assert match and "\n" not in message and len(message) < 400, message
            assert match["key"] in SCHEMA["properties"] or match["key"] in config, message
            refused += 1
            continue
        accepted += 1
        assert finite(checked), config
        train, hessian, slices = checked["train"], checked["hessian"], checked["slices"]
        for name, arch in runs.trained_pairs(checked):
            spec = checked["datasets"][name]
            settings = runs.settings(checked, name, arch)
            assert settings["batch_size"] <= preflight.training_size(spec)
            assert preflight.training_bytes(train, spec, arch) <= BUDGET
            assert preflight.overlaps_bytes(checked["overlaps"], train, spec, arch) <= BUDGET
        for name, arch in runs.select(checked, hessian["datasets"]):
            spec = checked["datasets"][name]
            replicas = hessian["replicas"] or train["replicas"]
            assert preflight.hessian_bytes(hessian, replicas, spec, arch) <= BUDGET
        for name, arch in runs.select(checked, slices["datasets"], slices["architectures"]):
            spec = checked["datasets"][name]
            assert preflight.slices_bytes(slices, train, spec, arch) <= BUDGET
        boltzmann = checked["boltzmann"]
        for name in boltzmann["train_on"]:
            spec = boltzmann["datasets"][name]
            assert 0 < preflight.boltzmann_bytes(boltzmann["training"], spec) <= BUDGET
    assert refused > 100 and accepted > 20, (refused, accepted)
