rule figure_training_curves:
    input:
        train_targets(),
    output:
        figure_outputs("training_curves", "Training"),
    log:
        "results/logs/figures/training_curves.log",
    benchmark:
        "results/benchmarks/figures/training_curves.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/figure_training_curves.py"


rule figure_perceptron_generalization:
    input:
        "results/perceptron/learning_curves.nc",
    output:
        figure_outputs("perceptron_generalization", "Perceptron"),
    log:
        "results/logs/figures/perceptron_generalization.log",
    benchmark:
        "results/benchmarks/figures/perceptron_generalization.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/figure_perceptron_generalization.py"


rule figure_perceptron_capacity:
    input:
        "results/perceptron/capacity.nc",
    output:
        figure_outputs("perceptron_capacity", "Perceptron"),
    log:
        "results/logs/figures/perceptron_capacity.log",
    benchmark:
        "results/benchmarks/figures/perceptron_capacity.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/figure_perceptron_capacity.py"
