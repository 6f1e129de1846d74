# Hessian analysis of trained replicas: results/hessian/{dataset}/{arch}.nc


rule hessian:
    input:
        data="results/data/{dataset}.nc",
        train="results/train/{dataset}/{arch}.nc",
    output:
        "results/hessian/{dataset}/{arch}.nc",
    log:
        "results/logs/hessian/{dataset}/{arch}.log",
    benchmark:
        "results/benchmarks/hessian/{dataset}/{arch}.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=60,
        gpu=gpus(),
    params:
        cfg=section("hessian", drop=("datasets",)),
        seed=config["seed"],
        device=config["device"],
        library=library("scripts/hessian.py"),
        made_from=made_from,
    script:
        "../../scripts/hessian.py"
