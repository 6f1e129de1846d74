# Loss-landscape slices and curvature of random projections (config section `slices`).
#   results/slices/{dataset}/{arch}/{direction}.nc   one file per named entry of slices.directions
#   results/slices/{dataset}/{arch}/curvature.nc     random-projection curvature statistics


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
        mem_mb=lambda wildcards, attempt: (1500 + 2 * config["slices"]["memory_mb"])
        * attempt,
        runtime=30,
        gpu=gpus(),
    params:
        cfg=get_slice_params,
        seed=config["seed"],
        device=config["device"],
        library=library("scripts/slices.py"),
        made_from=made_from,
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
        mem_mb=lambda wildcards, attempt: (1500 + 2 * config["slices"]["memory_mb"])
        * attempt,
        runtime=30,
        gpu=gpus(),
    params:
        cfg=canonical(
            {
                "replicas": config["slices"]["replicas"],
                "memory_mb": config["slices"]["memory_mb"],
                **config["slices"]["curvature"],
            }
        ),
        seed=config["seed"],
        device=config["device"],
        library=library("scripts/curvature_stats.py"),
        made_from=made_from,
    script:
        "../../scripts/curvature_stats.py"
