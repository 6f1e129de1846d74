rule train_replicas:
    input:
        "results/data/{dataset}.nc",
    output:
        "results/train/{dataset}/{arch}.nc",
    log:
        "results/logs/train/{dataset}/{arch}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{arch}.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=60,
        gpu=gpus(),
    params:
        cfg=get_train_settings,
        seed=config["seed"],
        device=config["device"],
        network=get_network_spec,
        library=library("scripts/train.py"),
        made_from=made_from,
    script:
        "../../scripts/train.py"
