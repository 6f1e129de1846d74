rule data_make:
    input:
        get_dataset_file,
    output:
        "results/data/{dataset}.nc",
    log:
        "results/logs/data/{dataset}.log",
    benchmark:
        "results/benchmarks/data/{dataset}.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=10,
    params:
        spec=get_dataset_spec,
        seed=config["seed"],
        library=library("scripts/data.py"),
    script:
        "../../scripts/data.py"
