import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from statmech_nn.errors import InputError
from statmech_nn.io import labelled, provenance_attrs, read_dataset, write_dataset

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _example() -> xr.Dataset:
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {
            "loss": labelled(rng.normal(size=(3, 5)), ("replica", "epoch"), "loss", "nats"),
            "status": labelled(np.array(["ok", "diverged", "ok"], dtype=object), ("replica",), "s"),
            "count": labelled(np.arange(3, dtype=np.int64), ("replica",), "count"),
        },
        coords={
            "replica": np.arange(3),
            "epoch": np.arange(5) * 2,
            "name": ("replica", list("abc")),
        },
    )
    ds.attrs.update(provenance_attrs(title="test", config={"a": 1}, seed=2**62, rule="r"))
    return ds


def test_round_trip_keeps_values_dims_coords_and_attrs(tmp_path):
    ds = _example()
    back = read_dataset(write_dataset(ds, tmp_path / "sub" / "x.nc"))
    xr.testing.assert_identical(back, ds)
    assert back["loss"].attrs == {"long_name": "loss", "units": "nats"}
    assert back.attrs["Conventions"] == "CF-1.8"
    assert back.attrs["seed"] == str(2**62)
    assert {"config_json", "rule", "wildcards_json", "torch_version", "history"} <= set(back.attrs)


def test_numeric_variables_are_compressed(tmp_path):
    path = write_dataset(_example(), tmp_path / "x.nc")
    with xr.open_dataset(path, engine="netcdf4") as ds:
        assert ds["loss"].encoding["zlib"] is True


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "x.nc"

    def broken(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"CDF partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(_example(), target)
    assert list(tmp_path.iterdir()) == []


def test_process_killed_midway_leaves_no_file_at_target(tmp_path):
    """SIGKILL while a large file is being written: the declared path never appears."""
    target = tmp_path / "big.nc"
    code = (
        "import numpy as np, xarray as xr\n"
        "from statmech_nn.io import write_dataset\n"
        "ds = xr.Dataset({f'v{i}': (('a', 'b'), np.random.default_rng(i).normal(size=(2000, 2000)))"
        " for i in range(12)})\n"
        f"write_dataset(ds, {str(target)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC})
    deadline = time.time() + 120
    while time.time() < deadline and not any(tmp_path.glob(".big.nc.*.tmp")):
        time.sleep(0.01)
    assert any(tmp_path.glob(".big.nc.*.tmp")), "the write never started"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(InputError, match=r"nope\.nc: file not found"):
        read_dataset(tmp_path / "nope.nc")


def test_truncated_file_is_a_one_line_error(tmp_path):
    path = write_dataset(_example(), tmp_path / "x.nc")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match=r"x\.nc: not a readable netCDF file"):
        read_dataset(path)


def test_wrong_stage_names_missing_variables(tmp_path):
    path = write_dataset(_example(), tmp_path / "x.nc")
    with pytest.raises(InputError, match=r"expected variable\(s\) params"):
        read_dataset(path, required=["loss", "params"])
