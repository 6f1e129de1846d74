# Shared helpers: wildcard constraints, target lists and input functions.
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


def hessian_targets():
    """One Hessian file per (hessian.datasets x train.architectures)."""
    return expand(
        "results/hessian/{dataset}/{arch}.nc",
        dataset=config["hessian"]["datasets"],
        arch=config["train"]["architectures"],
    )


def figure_paths(name):
    """The files of figure `name` in every configured format."""
    return expand(
        "results/figures/{name}.{ext}", name=name, ext=config["figures"]["formats"]
    )


def all_targets():
    return (
        train_targets()
        + figure_paths("training_curves")
        + hessian_targets()
        + figure_paths("hessian_spectrum")
        + figure_paths("curvature_vs_depth")
    )


def get_dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def gpus():
    """GPUs a compute job asks for: one when the config computes on CUDA."""
    return 1 if config["device"] == "cuda" else 0
