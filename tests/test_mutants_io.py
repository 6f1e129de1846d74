"""Provenance attributes every stage file carries (DESIGN §4), key by key (issue 19)."""

import json
import platform

import torch
import xarray as xr

from statmech_nn.io import provenance_attrs


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
