# Shared helpers: wildcard constraints, target lists and input functions.
from snakemake.io import report as in_report

from statmech_nn.models import ARCH_REGEX


wildcard_constraints:
    dataset=r"[A-Za-z][A-Za-z0-9_]*",
    arch=ARCH_REGEX,


for _name in config["train"]["datasets"]:
    if _name not in config["datasets"]:
        raise ValueError(
            f"config train.datasets: {_name!r} is not defined under 'datasets' "
            f"(defined: {', '.join(config['datasets'])})"
        )


def train_targets():
    """Every trained-replica file the config asks for."""
    return expand(
        "results/train/{dataset}/{arch}.nc",
        dataset=config["train"]["datasets"],
        arch=config["train"]["architectures"],
    )


FIGURES = []  # every figure name, registered by figure_outputs in data-flow order


def figure_paths(name):
    """The files of figure `name` in every configured format."""
    return expand(
        "results/figures/{name}.{ext}", name=name, ext=config["figures"]["formats"]
    )


def figure_outputs(name, category):
    """Outputs of figure_<name>, every format; the PNG goes in the report with a caption."""
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
    return train_targets() + all_figures()


def get_dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def gpus():
    """GPUs a compute job asks for: one when the config computes on CUDA."""
    return 1 if config["device"] == "cuda" else 0
