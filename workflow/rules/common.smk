# Shared helpers: wildcard constraints, target lists, input functions and params.
# The config is checked before this file (Snakefile: statmech_nn.configcheck), cross-references
# between sections included.
import os
import re

from snakemake.io import regex_from_filepattern
from snakemake.io import report as in_report
from snakemake.iocontainers import Wildcards

from statmech_nn import runs
from statmech_nn.arch import arch_regex
from statmech_nn.codedigest import code_digest
from statmech_nn.configcheck import canonical


wildcard_constraints:
    dataset=r"[A-Za-z][A-Za-z0-9_]*",
    arch=arch_regex(list(config["models"])),


def section(*path, drop=()):
    """A rule's params from the config section at ``path``: without the keys in ``drop`` (lists
    of other jobs' wildcards), keys sorted, so that a job reruns when a value its output
    depends on changes, and neither when another job's entry is added nor when keys are
    reordered (Snakemake compares params by their repr)."""
    cfg = config
    for key in path:
        cfg = cfg[key]
    return canonical({k: v for k, v in cfg.items() if k not in drop})


def library(script, only=None):
    """Param `library` of the rules running `script`, a digest of the statmech_nn modules
    the script imports (statmech_nn.codedigest), so that a change to them reruns its jobs
    (Snakemake's own `code` trigger sees the script only). `only`: see code_digest."""
    return code_digest(
        os.path.join(_BASE, script), os.path.join(_SRC, "statmech_nn"), only
    )


def figure_library(plot):
    """`library` of a figure rule: scripts/figure.py with the one plot function it draws."""
    return library(
        "scripts/figure.py", {"statmech_nn.plots": [plot, "apply_style", "save"]}
    )


# Each rule whose files later jobs read -> what its script records as their config section
# (rule.write's `config`): the name of its param, or {recorded key: param name}; and where
# the recorded keys sit in the config ({top-level key: config path}, "" for the others),
# formatted with the file's wildcards, to name them in a refusal.
RECORDS = {
    "data_make": ("spec", {"": "datasets.{dataset}"}),
    "train_replicas": ("cfg", {"": "train"}),
    "hessian": ("cfg", {"": "hessian"}),
    "slices_evaluate": (
        "cfg",
        {"": "slices", "direction": "slices.directions.{direction}"},
    ),
    "slices_curvature_stats": (
        "cfg",
        {
            "": "slices.curvature",
            "replicas": "slices.replicas",
            "memory_mb": "slices.memory_mb",
        },
    ),
    "overlaps": ("cfg", {"": "overlaps"}),
    "ising_lattice": ("cfg", {"": "ising"}),
    "boltzmann_train": (
        {"data": "spec", "training": "training"},
        {"data": "boltzmann.datasets.{data}", "training": "boltzmann.training"},
    ),
    "perceptron_learning_curves": ("cfg", {"": "perceptron.learning_curves"}),
    "perceptron_capacity": ("cfg", {"": "perceptron.capacity"}),
    "hopfield_capacity": ("cfg", {"": "hopfield.capacity"}),
    "hopfield_energy_descent": ("cfg", {"": "hopfield.energy"}),
    "paper_saddle": ("cfg", {"": "paper.saddle"}),
    "paper_traces": ("cfg", {"": "paper"}),
}


def made_from(wildcards, input):
    """Param `made_from` of each rule reading results, for each input file the config
    section its rule records (evaluated from that rule's own params, so the two cannot
    drift) and where its keys sit in the config; rule.read_input refuses a file whose
    recorded section differs (statmech_nn.inputs.check_config)."""
    return {
        path: recorded_section(*made)
        for path in input
        if (made := producer_of(path)) is not None
    }


def recorded_section(name, found):
    """What a file of rule `name` with wildcards `found` records as its config section."""
    params, where = RECORDS[name]
    rule_params = getattr(rules, name).params
    wc = Wildcards(fromdict=found)

    def value(param):
        v = getattr(rule_params, param)
        return v(wc) if callable(v) else v

    if isinstance(params, str):
        recorded = value(params)
    else:
        recorded = {key: value(param) for key, param in params.items()}
    return {
        "config": recorded,
        "keys": {key: at.format(**found) for key, at in where.items()},
    }


_OUTPUT_REGEX = {}


def producer_of(path):
    """(rule, wildcards) of the rule in RECORDS whose output pattern (with its wildcard
    constraints) matches `path`; None for a file no rule of RECORDS makes."""
    if not _OUTPUT_REGEX:
        for name in RECORDS:
            pattern = str(getattr(rules, name).rule.output[0])  # with its constraints
            _OUTPUT_REGEX[name] = re.compile(regex_from_filepattern(pattern))
    found = [
        (name, m.groupdict())
        for name, regex in _OUTPUT_REGEX.items()
        if (m := regex.fullmatch(str(path)))
    ]
    if len(found) > 1:
        raise ValueError(f"{path} matches the outputs of rules {found}")
    return found[0] if found else None


def pair_paths(pattern, pairs, **wildcards):
    """``pattern`` for every (dataset, arch) in ``pairs``, expanded over ``wildcards`` too."""
    return [
        path
        for dataset, arch in pairs
        for path in expand(pattern, dataset=dataset, arch=arch, **wildcards)
    ]


def train_targets():
    """Every trained-replica file: one per trained (dataset, arch) pair, those of
    train.datasets x train.architectures and of each train.runs block
    (statmech_nn.runs)."""
    return pair_paths("results/train/{dataset}/{arch}.nc", runs.trained_pairs(config))


def get_train_settings(wildcards):
    """The train section as the pair's job uses it: without the lists of what to train, with
    its train.runs block's overrides (a new pair or block reruns no other training)."""
    return canonical(runs.settings(config, wildcards.dataset, wildcards.arch))


FIGURES = []  # every figure name, registered by figure_outputs in data-flow order


def figure_paths(name):
    """The files of figure `name` in every configured format."""
    return expand(
        "results/figures/{name}.{ext}", name=name, ext=config["figures"]["formats"]
    )


def figure_outputs(name, category, in_all=True):
    """Outputs of figure_<name>, every format; the PNG goes in the report with a caption.
    ``in_all``: rule all (and rule figures) make it; otherwise only its own target does.
    """
    if in_all:
        FIGURES.append(name)
    return [
        (
            in_report(p, caption=f"../report/{name}.rst", category=category)
            if p.endswith(".png")
            else p
        )
        for p in figure_paths(name)
    ]


def all_figures():
    return [path for name in FIGURES for path in figure_paths(name)]


def all_targets():
    return train_targets() + all_figures() + views_targets()


def hessian_targets():
    """One Hessian file per trained pair whose data set is in hessian.datasets."""
    return pair_paths(
        "results/hessian/{dataset}/{arch}.nc",
        runs.select(config, config["hessian"]["datasets"]),
    )


def get_dataset_spec(wildcards):
    return canonical(config["datasets"][wildcards.dataset])


def get_dataset_file(wildcards):
    """The user's file a `kind: file` data set reads (an input: a new file reruns it)."""
    spec = config["datasets"][wildcards.dataset]
    return [spec["path"]] if spec["kind"] == "file" else []


def get_network_spec(wildcards):
    """A `models:` entry for a researcher's network; None for a built-in architecture."""
    return canonical(config["models"].get(wildcards.arch))


def gpus():
    """GPUs a compute job asks for: one when the config computes on CUDA."""
    return 1 if config["device"] == "cuda" else 0


# --- Ising family: Hopfield networks, 2D Ising model, RBMs (issue 6) ---
wildcard_constraints:
    L=r"[1-9][0-9]*",
    data=r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*",
    method=r"cd|pcd|exact",


def ising_targets():
    """Every Ising lattice the config asks for."""
    return expand("results/ising/L{L}.nc", L=config["ising"]["L"])


def boltzmann_targets():
    """Every (data set, method) training run the config asks for."""
    return expand(
        "results/boltzmann/{data}_{method}.nc",
        data=config["boltzmann"]["train_on"],
        method=config["boltzmann"]["methods"],
    )


def get_boltzmann_spec(wildcards):
    return canonical(config["boltzmann"]["datasets"][wildcards.data])


def get_boltzmann_input(wildcards):
    """The Ising lattice whose samples a data set uses; nothing for generated data."""
    spec = get_boltzmann_spec(wildcards)
    return [f"results/ising/L{spec.get('L', 4)}.nc"] if spec["kind"] == "ising" else []


# --- end Ising family ---


# ---- slices (workflow/rules/slices.smk, figures slices_* and projected_curvature)


def slice_pairs():
    """The trained pairs in slices.datasets x slices.architectures."""
    cfg = config["slices"]
    return runs.select(config, cfg["datasets"], cfg["architectures"])


def slice_paths(directions, pairs=None):
    """Slice files of ``directions`` for ``pairs`` (default: :func:`slice_pairs`)."""
    return pair_paths(
        "results/slices/{dataset}/{arch}/{direction}.nc",
        slice_pairs() if pairs is None else pairs,
        direction=directions,
    )


def slices_targets():
    """Every slice and curvature file the config asks for."""
    return slice_paths(list(config["slices"]["directions"]) + ["curvature"])


def get_slice_params(wildcards):
    """The direction's entry and the shared settings: all a slice's numbers depend on."""
    cfg = config["slices"]
    return canonical(
        {
            "direction": cfg["directions"][wildcards.direction],
            "replicas": cfg["replicas"],
            "dtype": cfg["dtype"],
            "memory_mb": cfg["memory_mb"],
        }
    )


def get_slice_hessian(wildcards):
    """The Hessian stage's file, for slices with a Hessian axis only."""
    axes = config["slices"]["directions"][wildcards.direction]["axes"]
    if any(axis.startswith("hessian") for axis in axes):
        return "results/hessian/{dataset}/{arch}.nc".format(**wildcards)
    return []


# ---- views (workflow/rules/views.smk): turnable views of the plane slices


def plane_directions():
    """Names of the slices.directions entries with two axes (planes)."""
    return [
        name
        for name, entry in config["slices"]["directions"].items()
        if len(entry["axes"]) == 2
    ]


def views_targets():
    """HTML, VTK and sidecar of every plane slice the config asks for."""
    return pair_paths(
        "results/views/{dataset}/{arch}/{direction}.{ext}",
        slice_pairs(),
        direction=plane_directions(),
        ext=["html", "vts", "json"],
    )


# ---- overlaps (workflow/rules/overlaps.smk, figures overlap_*)


def overlaps_targets():
    """One overlap file per trained (dataset, arch) pair."""
    pairs = runs.trained_pairs(config)
    return pair_paths("results/overlaps/{dataset}/{arch}.nc", pairs)


# ---- the paper study (workflow/rules/paper.smk, figures paper_*; target `paper`)


def paper_function():
    """The function approximator's data set, architecture and planes (paper.function)."""
    fn = config["paper"]["function"]
    if fn["dataset"] not in config["datasets"]:
        raise ValueError(
            f"config paper.function.dataset: {fn['dataset']!r} is not defined under datasets "
            "(the paper target needs a `kind: function` entry)"
        )
    return fn


def paper_function_slices(directions):
    fn = paper_function()
    return slice_paths(directions, [(fn["dataset"], fn["architecture"])])


def paper_function_planes(wildcards):
    """Input function (paper target only): the function approximator's plane slices."""
    return paper_function_slices(config["paper"]["function"]["planes"])


def paper_function_curvature(wildcards):
    """Input function (paper target only): the function approximator's curvature file."""
    return paper_function_slices(["curvature"])


PAPER_FIGURES = [
    "paper_saddle_planes",
    "paper_saddle_curvature",
    "paper_trace_estimators",
    "paper_function_planes",
    "paper_function_curvature",
]
# the image classifiers (train/hessian/slices sections) through figures.smk's rules
PAPER_STUDY_FIGURES = [
    "training_curves",
    "hessian_spectrum",
    "slices_random_vs_hessian",
    "projected_curvature",
    "curvature_vs_depth",
]


def paper_targets():
    return [
        p for name in PAPER_FIGURES + PAPER_STUDY_FIGURES for p in figure_paths(name)
    ]
