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


def figure_paths(name):
    """The files of figure `name` in every configured format."""
    return expand(
        "results/figures/{name}.{ext}", name=name, ext=config["figures"]["formats"]
    )


def all_targets():
    return train_targets() + figure_paths("training_curves")


def get_dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def gpus():
    """GPUs a compute job asks for: one when the config computes on CUDA."""
    return 1 if config["device"] == "cuda" else 0


# ---- slices (workflow/rules/slices.smk, figures slices_* and projected_curvature)


def _check_slices_config():
    cfg = config["slices"]
    for key in ("datasets", "architectures"):
        missing = set(cfg[key]) - set(config["train"][key])
        if missing:
            raise ValueError(
                f"config slices.{key}: {sorted(missing)} not trained (add them to train.{key})"
            )
    for key in ("figure_planes", "figure_lines"):
        unknown = set(cfg[key]) - set(cfg["directions"])
        if unknown:
            raise ValueError(
                f"config slices.{key}: {sorted(unknown)} are not names under slices.directions"
            )


_check_slices_config()


def slice_paths(directions, datasets=None, archs=None):
    return expand(
        "results/slices/{dataset}/{arch}/{direction}.nc",
        dataset=datasets or config["slices"]["datasets"],
        arch=archs or config["slices"]["architectures"],
        direction=directions,
    )


def slices_targets():
    """Every slice and curvature file the config asks for."""
    return slice_paths(list(config["slices"]["directions"]) + ["curvature"])


def get_slice_params(wildcards):
    """The direction's entry and the shared settings: all a slice's numbers depend on."""
    cfg = config["slices"]
    return {
        "direction": cfg["directions"][wildcards.direction],
        "replicas": cfg["replicas"],
        "dtype": cfg["dtype"],
        "memory_mb": cfg["memory_mb"],
    }


def get_slice_hessian(wildcards):
    """The Hessian stage's file, for slices with a Hessian axis only."""
    axes = config["slices"]["directions"][wildcards.direction]["axes"]
    if any(axis.startswith("hessian") for axis in axes):
        return "results/hessian/{dataset}/{arch}.nc".format(**wildcards)
    return []
