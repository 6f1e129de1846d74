# Loss-landscape slices and curvature of random projections (config section `slices`).
#   results/slices/{dataset}/{arch}/{direction}.nc   one file per named entry of slices.directions
#   results/slices/{dataset}/{arch}/curvature.nc     random-projection curvature statistics


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


rule slices_evaluate:
    input:
        train="results/train/{dataset}/{arch}.nc",
        data="results/data/{dataset}.nc",
        hessian=get_slice_hessian,
    output:
        "results/slices/{dataset}/{arch}/{direction}.nc",
    log:
        "results/logs/slices/{dataset}/{arch}/{direction}.log",
    benchmark:
        "results/benchmarks/slices/{dataset}/{arch}/{direction}.tsv"
    wildcard_constraints:
        direction="|".join(config["slices"]["directions"]),
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wildcards: 1500 + 2 * config["slices"]["memory_mb"],
        runtime=30,
    params:
        cfg=get_slice_params,
    script:
        "../../scripts/slices.py"


rule slices_curvature_stats:
    input:
        train="results/train/{dataset}/{arch}.nc",
        data="results/data/{dataset}.nc",
        hessian="results/hessian/{dataset}/{arch}.nc",
    output:
        "results/slices/{dataset}/{arch}/curvature.nc",
    log:
        "results/logs/slices/{dataset}/{arch}/curvature.log",
    benchmark:
        "results/benchmarks/slices/{dataset}/{arch}/curvature.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wildcards: 1500 + 2 * config["slices"]["memory_mb"],
        runtime=30,
    params:
        cfg=lambda wildcards: {
            "replicas": config["slices"]["replicas"],
            "memory_mb": config["slices"]["memory_mb"],
            **config["slices"]["curvature"],
        },
    script:
        "../../scripts/curvature_stats.py"
