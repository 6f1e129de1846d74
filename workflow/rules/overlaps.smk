# Solution-space geometry (config section `overlaps`).
#   results/overlaps/{dataset}/{arch}.nc   overlaps, aligned overlaps, barriers, basins


rule overlaps:
    input:
        train="results/train/{dataset}/{arch}.nc",
        data="results/data/{dataset}.nc",
    output:
        "results/overlaps/{dataset}/{arch}.nc",
    log:
        "results/logs/overlaps/{dataset}/{arch}.log",
    benchmark:
        "results/benchmarks/overlaps/{dataset}/{arch}.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wildcards, attempt: (1500 + 2 * config["overlaps"]["memory_mb"])
        * attempt,
        runtime=30,
    params:
        cfg=section("overlaps"),
        seed=config["seed"],
        library=library("scripts/overlaps.py"),
        made_from=made_from,
    script:
        "../../scripts/overlaps.py"
