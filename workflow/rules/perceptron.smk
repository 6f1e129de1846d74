# Teacher-student perceptron: learning curves vs replica theory, capacity vs Cover/Gardner.


rule perceptron_learning_curves:
    output:
        "results/perceptron/learning_curves.nc",
    log:
        "results/logs/perceptron/learning_curves.log",
    benchmark:
        "results/benchmarks/perceptron/learning_curves.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=20,
    params:
        cfg=section("perceptron", "learning_curves"),
        seed=config["seed"],
        library=library("scripts/perceptron_learning_curves.py"),
    script:
        "../../scripts/perceptron_learning_curves.py"


rule perceptron_capacity:
    output:
        "results/perceptron/capacity.nc",
    log:
        "results/logs/perceptron/capacity.log",
    benchmark:
        "results/benchmarks/perceptron/capacity.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=20,
    params:
        cfg=section("perceptron", "capacity"),
        seed=config["seed"],
        library=library("scripts/perceptron_capacity.py"),
    script:
        "../../scripts/perceptron_capacity.py"
