import math
import re

import pytest
import torch

from statmech_nn.arch import ACTIVATION_NAMES, ARCH_REGEX, parse_architecture
from statmech_nn.errors import InputError
from statmech_nn.nets.mlp import ACTIVATIONS
from statmech_nn.nets.mlp import MLP as Model


@pytest.mark.parametrize(
    ("name", "depth", "width", "act"),
    [
        ("mlp-d2-w64-tanh", 2, 64, "tanh"),
        ("mlp-d1-w64", 1, 64, "tanh"),
        ("mlp-d3-w8-relu", 3, 8, "relu"),
    ],
)
def test_parse(name, depth, width, act):
    arch = parse_architecture(name)
    assert (arch.depth, arch.width, arch.activation, arch.bias) == (depth, width, act, True)


@pytest.mark.parametrize(
    "bad", ["mlp-d0-w8", "mlp-d2", "mlp-d2-w8-swish", "cnn", "../x", "mlp-d1-w0"]
)
def test_unknown_architecture_is_a_one_line_error(bad):
    with pytest.raises(InputError, match="expected 'perceptron' or 'mlp-d<depth>-w<width>"):
        parse_architecture(bad)


def test_shapes_and_param_tensor():
    m = Model.build("mlp-d2-w5", 3, 2)
    assert m.shapes == {
        "layer0.weight": (5, 3),
        "layer0.bias": (5,),
        "layer1.weight": (5, 5),
        "layer1.bias": (5,),
        "layer2.weight": (2, 5),
        "layer2.bias": (2,),
    }
    assert m.n_params == 15 + 5 + 25 + 5 + 10 + 2 == len(m.param_tensor)
    p = Model.build("perceptron", 7, 1)
    assert p.shapes == {"layer0.weight": (1, 7)}


def test_flatten_unflatten_round_trip_with_leading_dims():
    m = Model.build("mlp-d2-w4-relu", 3, 2)
    theta = torch.randn(2, 5, m.n_params, dtype=torch.float64)
    params = m.unflatten(theta)
    assert params["layer1.weight"].shape == (2, 5, 4, 4)
    torch.testing.assert_close(m.flatten(params), theta, rtol=0, atol=0)


def test_forward_matches_torch_nn_and_broadcasts_over_replicas():
    m = Model.build("mlp-d2-w6-tanh", 4, 3)
    seeds = [1, 2, 3]
    theta = m.init_replicas(seeds, torch.float64)
    x = torch.randn(10, 4, dtype=torch.float64)
    batched = m.forward(theta, x)
    assert batched.shape == (3, 10, 3)
    for r in range(3):
        p = m.unflatten(theta[r])
        net = torch.nn.Sequential(
            torch.nn.Linear(4, 6),
            torch.nn.Tanh(),
            torch.nn.Linear(6, 6),
            torch.nn.Tanh(),
            torch.nn.Linear(6, 3),
        ).double()
        with torch.no_grad():
            for i, layer in enumerate([net[0], net[2], net[4]]):
                layer.weight.copy_(p[f"layer{i}.weight"])
                layer.bias.copy_(p[f"layer{i}.bias"])
        torch.testing.assert_close(batched[r], net(x), rtol=1e-12, atol=1e-12)


def test_init_is_pytorch_default_bound_and_seeded():
    m = Model.build("mlp-d1-w50", 20, 10)
    a, b = m.init(7), m.init(7)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, m.init(8))
    w0 = m.unflatten(a)["layer0.weight"]
    assert w0.abs().max() <= 1 / math.sqrt(20)
    assert w0.abs().max() > 0.9 / math.sqrt(20)
    assert m.unflatten(a)["layer1.weight"].abs().max() <= 1 / math.sqrt(50)


def test_wrong_parameter_count_names_the_architecture():
    m = Model.build("perceptron", 4, 1)
    with pytest.raises(InputError, match="perceptron: expected 4 parameters, got 5"):
        m.unflatten(torch.zeros(5))


def test_architecture_strings_name_exactly_the_activations_models_have():
    """The Snakefile's torch-free wildcard regex and the models agree on activations."""
    assert set(ACTIVATION_NAMES) == set(ACTIVATIONS)
    for act in ACTIVATION_NAMES:
        assert re.fullmatch(ARCH_REGEX, f"mlp-d1-w3-{act}")
