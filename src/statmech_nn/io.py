"""xarray <-> netCDF with CF attributes, provenance and atomic writes.

Every result of the study passes through :func:`write_dataset` and
:func:`read_dataset`: files are netCDF4 with zlib compression, carry the
CF-style global attributes and the provenance of the run (DESIGN §4), and
appear at their path only once complete (temp file in the same folder, then
``os.replace``), so a crash never leaves a partial file at a declared output;
the temporary file a crash leaves is removed by the next write of that output.
"""

import datetime as _dt
import errno
import glob
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

from statmech_nn import __version__
from statmech_nn.errors import InputError

log = logging.getLogger(__name__)

# Free space (bytes) under which netCDF's unspecific "HDF error" on a write is taken as a full disk.
FULL_DISK_BYTES = 16 * 2**20


def _torch_version() -> str:
    """torch's version, without importing torch where a job does not use it (figures)."""
    if "torch" in sys.modules:
        return sys.modules["torch"].__version__
    return importlib.metadata.version("torch")


def provenance_attrs(
    *,
    title: str,
    config: Mapping | None = None,
    seed: int | None = None,
    rule: str | None = None,
    wildcards: Mapping | None = None,
) -> dict[str, str | int]:
    """CF global attributes plus the provenance of one run (DESIGN §4)."""
    attrs: dict[str, str | int] = {
        "Conventions": "CF-1.8",
        "title": title,
        "source": f"statmech-nn {__version__}",
        "history": f"{_dt.datetime.now(_dt.UTC).isoformat(timespec='seconds')} created by "
        f"rule {rule or '-'}",
        "config_json": config_json(config),
        "rule": rule or "",
        "wildcards_json": json.dumps(dict(wildcards or {}), sort_keys=True),
        "python_version": platform.python_version(),
        "torch_version": _torch_version(),
        "xarray_version": xr.__version__,
    }
    if seed is not None:
        attrs["seed"] = str(seed)  # 63-bit seeds overflow netCDF's int attributes
    commit = git_commit()
    if commit:
        attrs["git_commit"] = commit
    return attrs


def config_json(config: Mapping | None) -> str:
    """A config section as a file records it (attribute ``config_json``): JSON, keys sorted.

    Reading jobs compare a file's section with their own config's through this same
    form (:func:`statmech_nn.inputs.check_config`).
    """
    return json.dumps(config or {}, sort_keys=True, default=str)


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The current git commit of ``cwd`` (default: here), or None outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    """zlib for every numeric variable; strings are stored as-is (netCDF can't compress them)."""
    enc = {}
    for name, var in {**ds.data_vars, **ds.coords}.items():
        if np.issubdtype(var.dtype, np.number) or var.dtype == bool:
            enc[name] = {"zlib": True, "complevel": 4}
    return enc


def write_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` atomically (netCDF4, zlib) and return the path.

    See :func:`atomic_target`: the file appears at ``path`` only once complete.
    """
    with atomic_target(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=_encoding(ds))
    return Path(path)


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that becomes ``path`` when the block succeeds.

    The block writes the temporary file; it is flushed to disk and moved into
    place with ``os.replace`` only after the block ends without error, with the
    permissions a new file gets under the process's umask. A failed
    write removes its temporary file, and temporaries left by earlier writes of
    the same target that were killed are removed first. A full disk is an
    :class:`InputError` naming the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in temporaries_of(path):
        stale.unlink(missing_ok=True)
        log.info("removed %s, left by an interrupted write", stale)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make results private to one user
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        full = _disk_full(err, path.parent)
        Path(tmp).unlink(missing_ok=True)
        if full:
            raise InputError(f"no space left on device writing {path}") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporaries_of(path: Path) -> list[Path]:
    """The temporary files of writes of ``path`` (``.<name>.<random>.tmp`` beside it).

    The random part has no dot, so temporaries of a target whose name extends
    this one (``x.nc`` vs ``x.nc.y.nc``) are not mistaken for these.
    """
    prefix = f".{path.name}."
    return [
        p
        for p in path.parent.glob(f"{glob.escape(prefix)}*.tmp")
        if "." not in p.name[len(prefix) : -len(".tmp")]
    ]


def _disk_full(err: BaseException, folder: Path) -> bool:
    """Whether a failed write failed for want of space in ``folder``.

    An OSError says so (ENOSPC, or EDQUOT for a quota); the netCDF library
    reports it only as "NetCDF: HDF error", taken as a full disk when less than
    :data:`FULL_DISK_BYTES` are free.
    """
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    return "HDF error" in str(err) and shutil.disk_usage(folder).free < FULL_DISK_BYTES


def read_dataset(path: str | Path, required: Iterable[str] = ()) -> xr.Dataset:
    """Load a netCDF file fully into memory, checking it holds ``required`` variables.

    Raises :class:`InputError` with a one-line message naming the file when it
    is missing, unreadable (truncated or corrupt) or from the wrong stage.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            ds = ds.load()
    except Exception as err:  # netCDF4 raises OSError, RuntimeError or ValueError
        raise InputError(
            f"{path}: not a readable netCDF file (truncated or corrupt?): {err}"
        ) from None
    missing = [name for name in required if name not in ds.variables]
    if missing:
        raise InputError(
            f"{path}: expected variable(s) {', '.join(missing)}; found "
            f"{', '.join(sorted(map(str, ds.data_vars)))} (is it from the right stage?)"
        )
    return ds


def labelled(
    values: object, dims: tuple[str, ...], long_name: str, units: str = "1"
) -> xr.Variable:
    """A variable with its dims, ``long_name`` and ``units`` (DESIGN §4).

    Torch tensors on any device are copied to host memory (duck-typed, so this
    module does not import torch).
    """
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return xr.Variable(dims, np.asarray(values), attrs={"long_name": long_name, "units": units})
