"""The (data set, architecture) pairs a config trains, and each pair's training settings,
without torch.

A config trains the product ``train.datasets × train.architectures`` (the main product)
and, in addition, the product of each ``train.runs`` block's own ``datasets`` and
``architectures``; a block may override the optimisation settings in :data:`OVERRIDES`
for its pairs (a CNN on images wants another learning rate than an MLP on features).
Empty main lists leave only the blocks. A pair is trained once: it belongs to exactly
one of these products (checked by :mod:`statmech_nn.configcheck`).

Every later stage (Hessian, slices, curvature, overlaps and the figures gathering
them) works on these trained pairs, filtered by its own ``datasets`` /
``architectures`` lists (:func:`select`). Functions take a config whose defaults
are filled (:func:`statmech_nn.configcheck.check`).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from statmech_nn.errors import ConfigError

# Keys of the ``train`` section a ``train.runs`` block may set for its own pairs. The others
# (replicas, snapshots, dtype, loss) stay shared, so that the Hessian, slice and overlap
# stages check their replica counts and sizes against one ``train`` section.
OVERRIDES = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "polish")
LISTS = ("datasets", "architectures", "runs")  # the keys that say what to train, not how


@dataclass(frozen=True)
class Run:
    """One trained pair: its data set, architecture, the config key of the product it comes
    from (``train`` or ``train.runs[i]``) and the overrides of that block."""

    dataset: str
    arch: str
    key: str
    overrides: Mapping = field(default_factory=dict)

    @property
    def pair(self) -> tuple[str, str]:
        return self.dataset, self.arch


def products(train: Mapping) -> list[tuple[str, Mapping]]:
    """The products of the ``train`` section, with their config keys: ``("train", main)``,
    then ``("train.runs[i]", block)`` for each block."""
    return [("train", train)] + [(f"train.runs[{i}]", b) for i, b in enumerate(train["runs"])]


def runs(config: Mapping) -> list[Run]:
    """Every trained pair in config order (main product, then each block's), data set outer."""
    found = []
    for key, block in products(config["train"]):
        overrides = {k: block[k] for k in OVERRIDES if key != "train" and k in block}
        for dataset in block["datasets"]:
            found.extend(Run(dataset, arch, key, overrides) for arch in block["architectures"])
    return found


def trained_pairs(config: Mapping) -> list[tuple[str, str]]:
    return [run.pair for run in runs(config)]


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def trained_datasets(config: Mapping) -> list[str]:
    """Names of the data sets some pair trains on, in config order."""
    return _unique(d for d, _ in trained_pairs(config))


def trained_architectures(config: Mapping) -> list[str]:
    """Architectures some pair trains, in config order."""
    return _unique(a for _, a in trained_pairs(config))


def select(
    config: Mapping, datasets: Iterable[str] | None = None, archs: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """The trained pairs whose data set is in ``datasets`` and architecture in ``archs``
    (None: any), in config order."""
    datasets = None if datasets is None else set(datasets)
    archs = None if archs is None else set(archs)
    return [
        (d, a)
        for d, a in trained_pairs(config)
        if (datasets is None or d in datasets) and (archs is None or a in archs)
    ]


def settings(config: Mapping, dataset: str, arch: str) -> dict:
    """The training settings of one pair: the ``train`` section without the lists that say
    what to train, with the overrides of the block that trains the pair (none for a pair
    no block names, e.g. the paper's function approximator)."""
    train = config["train"]
    out = {k: v for k, v in train.items() if k not in LISTS}
    for run in runs(config):
        if run.pair == (dataset, arch):
            out.update(run.overrides)
            break
    return out


def source_key(config: Mapping, dataset: str, arch: str, name: str) -> str:
    """The config key a pair's setting ``name`` comes from: ``train.runs[i].<name>`` where its
    block overrides it, else ``train.<name>``."""
    for run in runs(config):
        if run.pair == (dataset, arch) and name in run.overrides:
            return f"{run.key}.{name}"
    return f"train.{name}"


def _product_name(key: str) -> str:
    return "train.datasets x train.architectures" if key == "train" else key


def check(config: Mapping) -> None:
    """At least one pair trains, and each pair in one product only (its settings are one)."""
    if not trained_pairs(config):
        raise ConfigError(
            "config train: nothing to train (allowed: non-empty train.datasets and "
            "train.architectures, or at least one train.runs block)"
        )
    first: dict[tuple[str, str], str] = {}
    for run in runs(config):
        if run.pair in first:
            raise ConfigError(
                f"config {run.key}: {run.dataset}/{run.arch} is trained by "
                f"{_product_name(first[run.pair])} already (allowed: each data set and "
                "architecture pair in one product)"
            )
        first[run.pair] = run.key
