"""Pre-flight sizes and memory: what each job of a config needs, refused before any job runs.

Estimates, from the config alone, the memory of the largest job of every
stage (training, Hessian, slices, overlaps of every trained (data set,
architecture) pair, :mod:`statmech_nn.runs`; Boltzmann machines, perceptron,
Hopfield, Ising) and refuses, naming the keys, a study that needs more than
:data:`MEMORY_BUDGET_GIB` in one job, or sizes that contradict each other
(batch larger than the training set). A researcher's network or data file is
sized only once its job builds it, so those jobs are not estimated here.
"""

import math
from collections.abc import Mapping

from statmech_nn import runs
from statmech_nn.arch import Architecture, parse_architecture
from statmech_nn.errors import ConfigError

MEMORY_BUDGET_GIB = 24
DIGITS_SAMPLES = 1797
DIGITS_FEATURES = 64
DIGITS_CLASSES = 10
RBM_ENUMERATED_UNITS = 20  # boltzmann.MAX_ENUMERATED_UNITS, without importing torch


def training_size(spec: Mapping) -> int | None:
    """Training samples of a ``datasets`` entry (digits: sklearn's stratified split size);
    None for a user's file (its size is known once the data job reads it)."""
    if spec["kind"] == "digits":
        full = DIGITS_SAMPLES - math.ceil(spec["test_fraction"] * DIGITS_SAMPLES)
    elif spec["kind"] == "file":
        return None
    else:
        full = spec["n_train"]
    return full if spec.get("train_size") is None else min(full, spec["train_size"])


def check_sizes(config: dict) -> None:
    """Refuse sizes that contradict each other and jobs that would not fit in memory."""
    for name, spec in config["datasets"].items():
        full = training_size({**spec, "train_size": None})
        if full is not None and spec.get("train_size") is not None and spec["train_size"] > full:
            raise ConfigError(
                f"config datasets.{name}.train_size: {spec['train_size']} is more than the "
                f"{full} training samples of this entry (allowed: at most {full})"
            )
    _check_training(config)
    train, hessian = config["train"], config["hessian"]
    for name in hessian["datasets"]:
        n = training_size(config["datasets"][name])
        if n is not None and hessian["samples"] is not None and hessian["samples"] > n:
            raise ConfigError(
                f"config hessian.samples: {hessian['samples']} is more than the {n} training "
                f"samples of datasets.{name} (allowed: at most {n}, or null for all)"
            )
    for run in _estimable_runs(config, datasets=hessian["datasets"]):
        _refuse_memory(
            hessian_bytes(
                hessian,
                hessian["replicas"] or train["replicas"],
                config["datasets"][run.dataset],
                run.arch,
            ),
            f"hessian x {run.key}.architectures {run.arch!r} on datasets.{run.dataset}",
            "fewer hessian.replicas or SLQ probes and steps, a smaller network",
        )
    _check_slices_memory(config)
    _check_overlaps_memory(config)
    _check_boltzmann_memory(config)
    _check_perceptron_memory(config["perceptron"])
    _check_hopfield_memory(config["hopfield"])
    _check_ising_memory(config["ising"])


def _estimable(config: dict, dataset: str, arch: str) -> bool:
    """Whether a job's memory can be estimated from the config alone: not for a
    researcher's network (its size is known once built) nor a user's data file."""
    return arch not in config["models"] and config["datasets"][dataset]["kind"] != "file"


def _estimable_runs(config: dict, datasets=None, archs=None) -> list[runs.Run]:
    """The trained pairs (:mod:`statmech_nn.runs`) a stage analyses (those with a data set in
    ``datasets`` and an architecture in ``archs``; None: any) whose memory is estimable."""
    chosen = set(runs.select(config, datasets, archs))
    return [
        run
        for run in runs.runs(config)
        if run.pair in chosen and _estimable(config, run.dataset, run.arch)
    ]


def _check_training(config: dict) -> None:
    """Every trained pair: its batch within its training set, its job within the budget."""
    for run in runs.runs(config):
        train = runs.settings(config, run.dataset, run.arch)
        n = training_size(config["datasets"][run.dataset])
        if n is not None and train["batch_size"] > n:
            key = runs.source_key(config, run.dataset, run.arch, "batch_size")
            raise ConfigError(
                f"config {key}: {train['batch_size']} is more than the {n} training "
                f"samples of datasets.{run.dataset} (allowed: at most {n})"
            )
    for run in _estimable_runs(config):
        _refuse_memory(
            training_bytes(config["train"], config["datasets"][run.dataset], run.arch),
            f"train.replicas x {run.key}.architectures {run.arch!r} on datasets.{run.dataset}",
            "fewer replicas or snapshots, a smaller network or data set",
        )


def parameter_count(arch: str, n_in: int, n_out: int) -> int:
    """Number P of trainable parameters of ``arch`` (biases in every layer but a perceptron's;
    a CNN on one-channel images)."""
    a = parse_architecture(arch)
    if not isinstance(a, Architecture):
        chans = [1, *a.channels]
        pairs = zip(chans[:-1], chans[1:], strict=True)
        convs = sum(c * (i * a.kernel**2 + 1 + 2 * a.batch_norm) for i, c in pairs)
        return convs + chans[-1] * n_out + n_out
    if a.depth == 0:
        return n_in * n_out
    widths = [n_in] + [a.width] * a.depth + [n_out]
    return sum(w_in * w_out + w_out for w_in, w_out in zip(widths, widths[1:], strict=False))


def _sizes(spec: Mapping) -> tuple[int, int, int]:
    """Inputs, classes and samples (training and test) of a ``datasets`` entry."""
    if spec["kind"] == "digits":
        return DIGITS_FEATURES, DIGITS_CLASSES, DIGITS_SAMPLES
    outputs = 1 if spec["kind"] == "function" else 2
    return spec["dim"], outputs, spec["n_train"] + spec["n_test"]


def training_bytes(train: Mapping, spec: Mapping, arch: str) -> int:
    """Memory of one training job, roughly: per replica the parameters with their gradient, two
    Adam moments and the snapshots, plus activations of an evaluation pass over the whole data
    set (training and test) in every layer."""
    n_in, n_out, n_all = _sizes(spec)
    a = parse_architecture(arch)
    size = 4 if train["dtype"] == "float32" else 8
    params = parameter_count(arch, n_in, n_out) * (4 + train["snapshots"])
    if isinstance(a, Architecture):
        activations = n_all * (max(a.width, n_out) * (a.depth + 1) + n_in)
    else:  # every convolution keeps (channels x pixels) per sample, twice (before/after act)
        activations = n_all * (2 * n_in * sum(a.channels) + n_out)
    return train["replicas"] * (params + activations) * size


def hessian_bytes(hessian: Mapping, replicas: int, spec: Mapping, arch: str) -> int:
    """Memory of one Hessian job, roughly: parameter-sized Lanczos vectors of every analysed
    replica (the SLQ bases of all probes, the eigensolver's basis, the trace probes) and the
    dense Hessian with its eigendecomposition when P is small enough to form it. The HVP
    batches are bounded by ``memory_mb`` on their own."""
    n_in, n_out, _ = _sizes(spec)
    p = parameter_count(arch, n_in, n_out)
    size = 4 if hessian["dtype"] == "float32" else 8
    basis = hessian["ncv"] or max(2 * hessian["k"] + 1, 20)
    vectors = hessian["slq_probes"] * hessian["slq_steps"] + basis + hessian["trace_probes"]
    dense = 3 * p * p if p <= hessian["dense_max_params"] else 0
    return (replicas * p * vectors + dense) * size


def _refuse_memory(needed: int, keys: str, hint: str) -> None:
    if needed > MEMORY_BUDGET_GIB * 2**30:
        raise ConfigError(
            f"config {keys}: needs about {needed / 2**30:.0f} GiB in one job (allowed: at most "
            f"{MEMORY_BUDGET_GIB} GiB; {hint})"
        )


def _check_perceptron_memory(perceptron: Mapping) -> None:
    """Every trial's inputs (P x N, float64) of the largest load are drawn at once; the
    students keep about as much again."""
    curves, capacity = perceptron["learning_curves"], perceptron["capacity"]
    n = curves["N"]
    _refuse_memory(
        16 * curves["n_trials"] * round(max(curves["alpha"]) * n) * n,
        "perceptron.learning_curves.N x alpha x n_trials",
        "a smaller N, lower loads or fewer trials",
    )
    n = max(capacity["N"])
    _refuse_memory(
        16 * capacity["n_trials"] * round(max(capacity["alpha"]) * n) * n,
        "perceptron.capacity.N x alpha x n_trials",
        "a smaller N, lower loads or fewer trials",
    )


def _check_hopfield_memory(hopfield: Mapping) -> None:
    cap, energy = hopfield["capacity"], hopfield["energy"]
    n = max(cap["N"])
    # couplings of every load of one N at once, plus the running sum (float32)
    _refuse_memory(
        4 * cap["trials"] * n * n * (len(cap["alpha"]) + 1),
        "hopfield.capacity.N x trials x alpha",
        "smaller networks, fewer trials or loads",
    )
    _refuse_memory(
        4 * energy["trials"] * energy["N"] ** 2 * 2,
        "hopfield.energy.N x trials",
        "a smaller network or fewer trials",
    )


def _check_ising_memory(ising: Mapping) -> None:
    walkers = ising["chains"] * len(ising["temperatures"])
    # spins of every chain, the measurement series (energy and magnetisation, float64)
    # and the kept samples
    needed = walkers * max(ising["L"]) ** 2 + 16 * walkers * ising["measurements"]
    needed += len(ising["temperatures"]) * ising["keep_samples"] * max(ising["L"]) ** 2
    _refuse_memory(
        needed,
        "ising.L x chains x temperatures x measurements",
        "smaller lattices, fewer chains, temperatures or measurements",
    )


def _itemsize(dtype: str) -> int:
    return 4 if dtype == "float32" else 8


def slices_bytes(slices: Mapping, train: Mapping, spec: Mapping, arch: str) -> int:
    """Memory of one slice job, roughly: the training file's parameters and snapshots of
    every replica (PCA reads the trajectory), the directions (axes × analysed replicas ×
    P, the curvature statistics' random directions too) and the grid of losses; the
    batched evaluation itself is bounded by ``memory_mb``."""
    n_in, n_out, _ = _sizes(spec)
    p = parameter_count(arch, n_in, n_out)
    replicas = min(slices["replicas"], train["replicas"])
    stored = train["replicas"] * p * (train["snapshots"] + 1) * _itemsize(train["dtype"])
    directions = slices["directions"].values()
    axes = max(len(d["axes"]) for d in directions)
    vectors = replicas * p * (axes + 2 + slices["curvature"]["directions"])
    grid = max(d["resolution"] ** len(d["axes"]) for d in directions) * replicas * 8
    return stored + vectors * _itemsize(slices["dtype"]) + grid + slices["memory_mb"] * 2**20


def overlaps_bytes(overlaps: Mapping, train: Mapping, spec: Mapping, arch: str) -> int:
    """Memory of one overlap job, roughly: every replica's parameters, raw and aligned to
    each other one (R² aligned copies at worst), and the path points of one pair; the
    batched path evaluation is bounded by ``memory_mb``."""
    n_in, n_out, _ = _sizes(spec)
    p = parameter_count(arch, n_in, n_out)
    r = train["replicas"]
    vectors = (2 * r + r * r + overlaps["t_points"]) * p
    return vectors * _itemsize(overlaps["dtype"]) + overlaps["memory_mb"] * 2**20


def _rbm_visible(spec: Mapping) -> int:
    """Visible units of an RBM data set: the pixels of bars and stripes or the Ising spins."""
    return spec["size"] ** 2 if spec["kind"] == "bars_and_stripes" else spec["L"] ** 2


def boltzmann_bytes(training: Mapping, spec: Mapping) -> int:
    """Memory of one RBM job, roughly: the enumerated states of the smaller layer (exact
    log Z and, for the exact method, the model's moments) for every replica, float64, with
    the free energies and weights of each state."""
    visible = _rbm_visible(spec)
    smaller = min(visible, training["hidden"])
    if smaller > RBM_ENUMERATED_UNITS:
        return 0  # refused by _check_boltzmann_memory with its own message
    return 8 * training["replicas"] * 2**smaller * (visible + training["hidden"] + 2) * 2


def _check_slices_memory(config: dict) -> None:
    slices, train = config["slices"], config["train"]
    for run in _estimable_runs(config, slices["datasets"], slices["architectures"]):
        _refuse_memory(
            slices_bytes(slices, train, config["datasets"][run.dataset], run.arch),
            f"slices x {run.key}.architectures {run.arch!r} on datasets.{run.dataset}",
            "fewer slices.replicas, axes or curvature directions, a smaller network",
        )


def _check_overlaps_memory(config: dict) -> None:
    train = config["train"]
    for run in _estimable_runs(config):
        _refuse_memory(
            overlaps_bytes(config["overlaps"], train, config["datasets"][run.dataset], run.arch),
            f"overlaps x train.replicas x {run.key}.architectures {run.arch!r} on "
            f"datasets.{run.dataset}",
            "fewer train.replicas or overlaps.t_points, a smaller network",
        )


def _check_boltzmann_memory(config: dict) -> None:
    boltzmann = config["boltzmann"]
    training = boltzmann["training"]
    for name in boltzmann["train_on"]:
        spec = boltzmann["datasets"][name]
        visible = _rbm_visible(spec)
        if min(visible, training["hidden"]) > RBM_ENUMERATED_UNITS:
            raise ConfigError(
                f"config boltzmann.datasets.{name}: {visible} visible and "
                f"{training['hidden']} hidden units; the exact log-likelihood enumerates the "
                f"smaller layer (allowed: at most {RBM_ENUMERATED_UNITS} units in it)"
            )
        _refuse_memory(
            boltzmann_bytes(training, spec),
            f"boltzmann.training.hidden x replicas on boltzmann.datasets.{name}",
            "fewer hidden units or replicas",
        )
