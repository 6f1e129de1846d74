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


rule figure_hessian_spectrum:
    input:
        hessian_targets(),
    output:
        figure_paths("hessian_spectrum"),
    log:
        "results/logs/figures/hessian_spectrum.log",
    benchmark:
        "results/benchmarks/figures/hessian_spectrum.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/figure_hessian_spectrum.py"


rule figure_curvature_vs_depth:
    input:
        hessian_targets(),
    output:
        figure_paths("curvature_vs_depth"),
    log:
        "results/logs/figures/curvature_vs_depth.log",
    benchmark:
        "results/benchmarks/figures/curvature_vs_depth.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/figure_curvature_vs_depth.py"
