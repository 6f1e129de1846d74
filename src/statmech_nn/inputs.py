"""An input file is what it claims to be before a job analyses it.

Every file of the study carries its provenance (DESIGN §4): the ``rule`` that
wrote it and that job's ``wildcards_json``. A job reading an input checks that
the file was written by the rule that makes that input, for the job's own
data set and architecture (a training file of another architecture or data set
copied to a training path is refused) and with the config the job's own config
gives that rule (:func:`check_config`: a training file of 5 epochs kept in place
after the config asked for 40 is refused), that it carries the attributes later
stages read, and that its numbers are finite where they must be. A replica
whose stored parameters are not finite is marked ``diverged`` on read, so the
stages, which analyse only replicas with status "ok", never see it. Each
refusal is an :class:`InputError`: one line naming the file, what it holds and
what was expected.
"""

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from statmech_nn.dims import REPLICA
from statmech_nn.errors import InputError
from statmech_nn.io import config_json, read_dataset

log = logging.getLogger(__name__)

# The rule that writes each input of a rule: {reading rule: {input name: writing rule}},
# "" naming the unnamed inputs. tests/test_inputs.py checks it against the rule graph.
PRODUCERS: dict[str, dict[str, str]] = {
    "train_replicas": {"": "data_make"},
    "hessian": {"data": "data_make", "train": "train_replicas"},
    "slices_evaluate": {"data": "data_make", "train": "train_replicas", "hessian": "hessian"},
    "slices_curvature_stats": {
        "data": "data_make",
        "train": "train_replicas",
        "hessian": "hessian",
    },
    "overlaps": {"data": "data_make", "train": "train_replicas"},
    "views_plane": {"": "slices_evaluate"},
    "boltzmann_train": {"": "ising_lattice"},
    "figure_training_curves": {"": "train_replicas"},
    "figure_perceptron_generalization": {"": "perceptron_learning_curves"},
    "figure_perceptron_capacity": {"": "perceptron_capacity"},
    "figure_hopfield_capacity": {"": "hopfield_capacity"},
    "figure_hopfield_energy": {"": "hopfield_energy_descent"},
    "figure_ising_thermodynamics": {"": "ising_lattice"},
    "figure_rbm_loglik": {"": "boltzmann_train"},
    "figure_slices_random_vs_hessian": {"": "slices_evaluate"},
    "figure_slices_1d": {"": "slices_evaluate"},
    "figure_projected_curvature": {"": "slices_curvature_stats"},
    "figure_hessian_spectrum": {"": "hessian"},
    "figure_curvature_vs_depth": {"": "hessian"},
    "figure_overlap_distributions": {"": "overlaps"},
    "figure_overlap_vs_depth": {"": "overlaps"},
    "figure_overlap_vs_train_size": {"": "overlaps"},
    "figure_paper_saddle_planes": {"": "paper_saddle"},
    "figure_paper_saddle_curvature": {"": "paper_saddle"},
    "figure_paper_trace_estimators": {"": "paper_traces"},
    "figure_paper_function_planes": {"": "slices_evaluate"},
    "figure_paper_function_curvature": {"": "slices_curvature_stats"},
}

# Attributes of a rule's files that later stages read (a missing one would be a KeyError there).
ATTRS: dict[str, tuple[str, ...]] = {
    "data_make": ("n_classes",),
    "train_replicas": ("arch", "input_shape_json", "n_outputs", "loss"),
    "ising_lattice": ("L",),
}

# Variables of a rule's files that must hold finite numbers (inputs of every later stage).
FINITE: dict[str, tuple[str, ...]] = {"data_make": ("x_train", "x_test")}

# Attributes that name what a file describes, compared with the reading job's wildcards.
IDENTITY_ATTRS = ("arch", "dataset")

# Differing config keys a refusal names (the rest are counted).
SHOWN_KEYS = 3


def read_input(
    path: str | Path,
    made_by: str,
    wildcards: Mapping[str, str],
    required: Iterable[str] = (),
    study_seed: int | None = None,
    made_from: Mapping | None = None,
) -> xr.Dataset:
    """Read an input file written by rule ``made_by`` for a job with ``wildcards``.

    Checks (each an :class:`InputError` naming the file): it is a readable
    netCDF file holding the ``required`` variables; it was written by
    ``made_by`` for the same values of the wildcards the job shares with it
    (:func:`check_provenance`) and, where both say, with the config's ``seed``
    the job runs with (``study_seed``); where ``made_from`` is given, with the
    config section it names (:func:`check_config`); it has the attributes in :data:`ATTRS` and the
    finite variables in :data:`FINITE`. Replicas with non-finite parameters are
    marked diverged (:func:`mark_non_finite_diverged`); a file whose
    ``params`` are required must keep at least one healthy replica, since
    reading parameters means analysing them.
    """
    required = list(required)
    ds = read_dataset(path, required)
    check_provenance(ds, path, made_by, wildcards)
    check_study_seed(ds, path, study_seed)
    check_config(ds, path, made_from)
    require_attrs(ds, path, ATTRS.get(made_by, ()))
    require_finite(ds, path, FINITE.get(made_by, ()))
    if "params" in ds and "status" in ds:
        ds = mark_non_finite_diverged(ds, path)
        if "params" in required:
            require_healthy(ds, path)
    return ds


def require_attrs(ds: xr.Dataset, path: str | Path, names: Iterable[str]) -> None:
    """Refuse a file that lacks any of the global attributes ``names``."""
    missing = [name for name in names if name not in ds.attrs]
    if missing:
        raise InputError(
            f"{path}: attribute(s) {', '.join(missing)} missing (expected in every file "
            f"of rule {ds.attrs.get('rule') or '?'}; is it from this workflow?)"
        )


def check_provenance(
    ds: xr.Dataset, path: str | Path, made_by: str, wildcards: Mapping[str, str]
) -> None:
    """Refuse a file not written by rule ``made_by`` for the job's data set and architecture.

    The file's ``rule`` attribute must be ``made_by``; for every wildcard the
    reading job has, the file's own wildcards (``wildcards_json``) and its
    identity attributes (``arch``, ``dataset``) must agree where they name it.
    """
    require_attrs(ds, path, ("rule", "wildcards_json"))
    if ds.attrs["rule"] != made_by:
        raise InputError(
            f"{path}: written by rule {ds.attrs['rule'] or '?'}; expected rule {made_by}"
        )
    try:
        claimed = dict(json.loads(ds.attrs["wildcards_json"]))
    except (TypeError, ValueError):
        raise InputError(f"{path}: attribute wildcards_json is not a JSON object") from None
    claimed.update({k: ds.attrs[k] for k in IDENTITY_ATTRS if k in ds.attrs and k in wildcards})
    wrong = sorted(k for k in wildcards if k in claimed and str(claimed[k]) != str(wildcards[k]))
    if wrong:
        holds = ", ".join(f"{k}={claimed[k]}" for k in wrong)
        expected = ", ".join(f"{k}={wildcards[k]}" for k in wrong)
        raise InputError(f"{path}: made for {holds}; expected {expected}")


def check_study_seed(ds: xr.Dataset, path: str | Path, study_seed: int | None) -> None:
    """Refuse a file made under another config ``seed`` than the reading job's.

    Snakemake reruns a job whose seed param changed, so a mismatch means a file
    copied in, restored or marked up to date by hand: its numbers belong to
    another study. Files without the attribute (or jobs without a seed) pass.
    """
    made = ds.attrs.get("study_seed")
    if study_seed is not None and made is not None and int(made) != int(study_seed):
        raise InputError(
            f"{path}: made with the config's seed {int(made)}; this job runs with seed "
            f"{int(study_seed)} (rerun the stage that makes it, or restore the config)"
        )


def check_config(ds: xr.Dataset, path: str | Path, made_from: Mapping | None) -> None:
    """Refuse a file made with another config section than the reading job's config gives.

    ``made_from``: ``{"config": section, "keys": {top-level key: config path}}``, the
    section the file's rule records (attribute ``config_json``) as the job's config
    makes it, and where its keys live in the config (``""``: the rest), to name
    them. Both are compared in the form :func:`statmech_nn.io.config_json` writes.
    Snakemake reruns the maker when its section changes, so a difference means a
    file kept, copied or restored by hand: its numbers belong to another study.
    Files without the attribute (made before it was recorded) pass.
    """
    if made_from is None or "config_json" not in ds.attrs:
        return
    try:
        recorded = json.loads(ds.attrs["config_json"])
    except (TypeError, ValueError):
        raise InputError(f"{path}: attribute config_json is not JSON") from None
    expected = json.loads(config_json(made_from["config"]))
    diffs = list(config_differences(recorded, expected))
    if not diffs:
        return
    names = [config_key(keys, made_from["keys"]) for keys, _, _ in diffs[:SHOWN_KEYS]]
    made = ", ".join(f"{n} = {_value(v)}" for n, (_, v, _) in zip(names, diffs, strict=False))
    if len(diffs) == 1:
        says = _value(diffs[0][2])
    else:
        says = ", ".join(f"{n} = {_value(v)}" for n, (_, _, v) in zip(names, diffs, strict=False))
    more = f" (and {len(diffs) - SHOWN_KEYS} more key(s))" if len(diffs) > SHOWN_KEYS else ""
    raise InputError(
        f"{path}: made with {made}{more}; this job's config says {says} "
        "(rerun the stage that makes it, or restore the config)"
    )


_UNSET = object()


def config_differences(made: object, wanted: object, at: tuple[str, ...] = ()):
    """``(key path, made value, wanted value)`` for every leaf where two sections differ,
    keys sorted; a key one side lacks has the value :data:`_UNSET` there."""
    if isinstance(made, dict) and isinstance(wanted, dict):
        for key in sorted(made.keys() | wanted.keys()):
            yield from config_differences(
                made.get(key, _UNSET), wanted.get(key, _UNSET), (*at, key)
            )
    elif made != wanted:
        yield at, made, wanted


def config_key(keys: tuple[str, ...], where: Mapping[str, str]) -> str:
    """The config path of a key path of a recorded section: ``where`` maps a top-level
    key to its config path (``""``: the path the other keys sit under)."""
    if keys and keys[0] in where:
        return ".".join((where[keys[0]], *keys[1:]))
    return ".".join(p for p in (where.get("", ""), *keys) if p)


def _value(value: object) -> str:
    return "(unset)" if value is _UNSET else json.dumps(value)


def require_finite(ds: xr.Dataset, path: str | Path, names: Iterable[str]) -> None:
    """Refuse a file whose variables ``names`` (those it has) hold NaN or ±inf."""
    bad = [name for name in names if name in ds and not np.isfinite(ds[name].values).all()]
    if bad:
        raise InputError(f"{path}: {', '.join(bad)} hold(s) NaN or infinite values")


def mark_non_finite_diverged(ds: xr.Dataset, path: str | Path) -> xr.Dataset:
    """Mark replicas whose ``params`` or ``snapshots`` are not all finite as "diverged".

    A replica whose status says "ok" but whose stored parameters hold NaN or
    ±inf was not recorded as diverged (a damaged or hand-edited file); every
    stage skips replicas whose status is not "ok", so marking it here keeps it
    out of every analysis. Logs a warning naming the file and the replicas.
    """
    finite = np.ones(ds.sizes[REPLICA], dtype=bool)
    for name in ("params", "snapshots"):
        if name in ds:
            values = ds[name].transpose(REPLICA, ...).values
            finite &= np.isfinite(values.reshape(len(finite), -1)).all(axis=1)
    status = ds["status"].values.astype(str)
    newly = ~finite & (status == "ok")
    if not newly.any():
        return ds
    log.warning(
        "%s: replica(s) %s hold non-finite parameters; treated as diverged",
        path,
        ds[REPLICA].values[newly].tolist(),
    )
    status = np.where(newly, "diverged", status).astype(object)
    ds = ds.assign(status=ds["status"].copy(data=status))
    if "n_diverged" in ds.attrs:
        ds.attrs["n_diverged"] = int((status != "ok").sum())
    return ds


def require_healthy(ds: xr.Dataset, path: str | Path) -> None:
    """Refuse a file in which no replica has status "ok": nothing is left to analyse."""
    if not (ds["status"].values.astype(str) == "ok").any():
        raise InputError(
            f"{path}: every replica diverged (status or non-finite parameters); nothing to analyse"
        )
