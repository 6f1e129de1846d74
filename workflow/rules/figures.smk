rule figure_training_curves:
    input:
        train_targets(),
    output:
        figure_paths("training_curves"),
    log:
        "results/logs/figures/training_curves.log",
    benchmark:
        "results/benchmarks/figures/training_curves.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/figure_training_curves.py"
