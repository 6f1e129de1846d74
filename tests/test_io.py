import errno
import os
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from statmech_nn import io
from statmech_nn.errors import InputError
from statmech_nn.io import labelled, provenance_attrs, read_dataset, write_dataset

DiskUsage = namedtuple("DiskUsage", "total used free")
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


def test_write_failing_midway_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    """The atomic write, checked at the target: a write that dies after part of the file is
    on disk leaves the previous complete file in place and nothing else in the folder."""
    target = write_dataset(_example(), tmp_path / "x.nc")
    old = target.read_bytes()

    def broken(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(old[: len(old) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(_example().assign(loss=lambda d: d["loss"] + 1), target)
    assert list(tmp_path.iterdir()) == [target]
    assert target.read_bytes() == old


def test_process_killed_midway_leaves_no_file_at_target_and_the_next_write_cleans_up(tmp_path):
    """SIGKILL while a large file is being written: the declared path never appears, and the
    next write of that output leaves the folder holding only the complete file."""
    target = tmp_path / "big.nc"
    code = (
        "import sys, numpy as np, xarray as xr\n"
        "from statmech_nn.io import write_dataset\n"
        "ds = xr.Dataset({f'v{i}': (('a', 'b'), np.random.default_rng(i).normal(size=(2000, 2000)))"
        " for i in range(4)})\n"
        "print('writing', flush=True)\n"
        f"write_dataset(ds, {str(target)!r})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": SRC},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "writing\n"
    time.sleep(0.3)  # zlib on 128 MB of random numbers takes seconds: the write is under way
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    assert list(tmp_path.iterdir()), "the killed write left nothing to clean up"
    write_dataset(_example(), target)
    assert list(tmp_path.iterdir()) == [target]


def test_stale_temporaries_of_other_targets_are_kept(tmp_path):
    mine = tmp_path / ".x.nc.k2j_9a0b.tmp"
    others = [tmp_path / ".x.nc.y.nc.k2j_9a0b.tmp", tmp_path / ".y.nc.k2j_9a0b.tmp"]
    for path in [mine, *others]:
        path.write_bytes(b"CDF partial")
    write_dataset(_example(), tmp_path / "x.nc")
    assert sorted(tmp_path.iterdir()) == sorted([tmp_path / "x.nc", *others])


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), RuntimeError("NetCDF: HDF error")],
    ids=["ENOSPC", "HDF-error"],
)
def test_full_disk_is_one_line_naming_the_path(tmp_path, monkeypatch, error):
    def full(self, path, **kwargs):
        Path(path).write_bytes(b"CDF partial")
        raise error

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    monkeypatch.setattr(io.shutil, "disk_usage", lambda folder: DiskUsage(10**12, 10**12, 0))
    target = tmp_path / "x.nc"
    with pytest.raises(InputError, match=f"^no space left on device writing {target}$"):
        write_dataset(_example(), target)
    assert list(tmp_path.iterdir()) == []


def test_hdf_error_with_free_space_is_not_called_a_full_disk(tmp_path, monkeypatch):
    def broken(self, path, **kwargs):
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    monkeypatch.setattr(io.shutil, "disk_usage", lambda folder: DiskUsage(10**12, 0, 10**12))
    with pytest.raises(RuntimeError, match="HDF error"):
        write_dataset(_example(), tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


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
