"""The glue every rule script shares: logging, threads, seeds, provenance, errors.

Takes Snakemake's ``snakemake`` object as an argument (it is never imported),
so scripts stay a few lines: ``rule.run(snakemake, main)``.
"""

import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import xarray as xr

from statmech_nn import inputs
from statmech_nn.errors import InputError
from statmech_nn.io import provenance_attrs, write_dataset
from statmech_nn.seeds import derive_seed

log = logging.getLogger("statmech_nn")


def wildcards_of(smk: Any) -> dict[str, str]:
    return {k: str(v) for k, v in smk.wildcards.items()}


def seed_of(smk: Any) -> int:
    """The job's seed: a stable hash of (config ``seed``, rule name, wildcards).

    The config's seed comes from the rule's ``seed`` param, so that Snakemake reruns the
    job when it changes.
    """
    return derive_seed(smk.params.seed, smk.rule, wildcards_of(smk))


def read_input(smk: Any, key: str | int = 0, required: Iterable[str] = ()) -> xr.Dataset:
    """Read input ``key`` (a name, or the index of an unnamed input) of the job, checked.

    The file must hold the ``required`` variables and come from the rule that
    makes this input (:data:`inputs.PRODUCERS`) for the job's own wildcards and
    with the config section the job's config gives that rule (:func:`made_from_of`);
    replicas with non-finite parameters come back marked diverged
    (:func:`inputs.read_input`).
    """
    made_by = inputs.PRODUCERS[smk.rule][key if isinstance(key, str) else ""]
    path = smk.input[key]
    return inputs.read_input(
        path, made_by, wildcards_of(smk), required, study_seed_of(smk), made_from_of(smk, path)
    )


def made_from_of(smk: Any, path: str) -> dict | None:
    """What input ``path`` must have been made from: the entry of the rule's ``made_from``
    param (workflow/rules/common.smk) for it, or None where the rule has no such param."""
    made_from = getattr(smk.params, "made_from", None)
    if made_from is None:
        return None
    if str(path) not in made_from:
        raise KeyError(f"rule {smk.rule}: param made_from has no entry for input {path}")
    return made_from[str(path)]


def study_seed_of(smk: Any) -> int | None:
    """The config's ``seed`` the job runs with (its ``seed`` param), if the rule has one."""
    seed = getattr(smk.params, "seed", None)
    return None if seed is None else int(seed)


def read_inputs(smk: Any, required: Iterable[str] = ()) -> list[xr.Dataset]:
    """Every input of the job, each read by :func:`read_input` (a figure's runs)."""
    return [read_input(smk, i, required) for i in range(len(smk.input))]


def write(
    smk: Any, ds: xr.Dataset, title: str, config: Mapping, output: int = 0, seed: int | None = None
) -> None:
    """Attach provenance (config section, seed, rule, wildcards) and write atomically.

    ``seed``: the seed the job used, where it is not :func:`seed_of` (the default).
    """
    ds.attrs.update(
        provenance_attrs(
            title=title,
            config=config,
            seed=seed_of(smk) if seed is None else seed,
            rule=smk.rule,
            wildcards=wildcards_of(smk),
        )
    )
    study_seed = study_seed_of(smk)
    if study_seed is not None:
        ds.attrs["study_seed"] = study_seed
    write_dataset(ds, smk.output[output])
    log.info("wrote %s", smk.output[output])


def run(smk: Any, main: Callable[[Any], None]) -> None:
    """Run ``main(smk)`` with stderr and logging sent to the rule's log.

    Sets torch's thread count from the rule's ``threads`` and deterministic
    algorithms on, if the script uses torch (figure scripts do not, and skip its
    2 s import). A user error (:class:`InputError`) ends the job with one line
    in the log and on the terminal, no traceback; other exceptions keep theirs.
    """
    logfile = open(smk.log[0], "w", buffering=1)  # noqa: SIM115 - lives for the process
    sys.stderr = logfile
    logging.basicConfig(
        stream=logfile, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting is chatty
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(max(int(smk.threads), 1))
        _deterministic(torch)
    try:
        main(smk)
    except InputError as err:
        log.error("%s", err)
        print(f"statmech-nn error in rule {smk.rule}: {err}", file=sys.__stderr__)
        sys.exit(1)


def _deterministic(torch: Any) -> None:
    """Deterministic algorithms on.

    ``torch.use_deterministic_algorithms`` also sets a flag in the inductor
    compiler, whose import (torch._dynamo) costs ~2.7 s per job; this workflow
    never compiles, so on CPU only the dispatcher flag is set.
    """
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or torch.cuda.is_available():
        torch.use_deterministic_algorithms(True)
    else:
        setter(True)


def progress(total: int, desc: str):
    """A tqdm progress bar writing to the rule's log (stderr), updated at most every 2 s."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=2.0, ascii=True)
