"""Provenance attributes every stage file carries (DESIGN §4), key by key (issue 19)."""

import json
import platform

import numpy as np
import torch
import xarray as xr

from statmech_nn.io import labelled, provenance_attrs


def test_provenance_names_every_version_and_the_run():
    attrs = provenance_attrs(
        title="t", config={"b": 1, "a": [2]}, seed=2**62 + 1, rule="r", wildcards={"w": "x"}
    )
    assert attrs["Conventions"] == "CF-1.8" and attrs["title"] == "t"
    assert attrs["python_version"] == platform.python_version()
    assert attrs["torch_version"] == torch.__version__
    assert attrs["xarray_version"] == xr.__version__
    assert attrs["seed"] == str(2**62 + 1)
    assert json.loads(attrs["config_json"]) == {"a": [2], "b": 1}
    assert json.loads(attrs["wildcards_json"]) == {"w": "x"} and attrs["rule"] == "r"
    assert attrs["history"].endswith("created by rule r")


def test_labelled_takes_a_tensor_that_requires_grad():
    """A tensor still in the autograd graph is detached and copied to NumPy, not refused."""
    theta = torch.linspace(0, 1, 4, dtype=torch.float64, requires_grad=True)
    var = labelled(2 * theta, ("x",), "twice θ", "nat")
    assert isinstance(var.values, np.ndarray)
    np.testing.assert_allclose(var.values, [0.0, 2 / 3, 4 / 3, 2.0], rtol=1e-15)
    assert var.dims == ("x",) and var.attrs == {"long_name": "twice θ", "units": "nat"}
