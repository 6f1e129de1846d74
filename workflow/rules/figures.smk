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


rule figure_slices_random_vs_hessian:
    input:
        slice_paths(config["slices"]["figure_planes"]),
    output:
        figure_paths("slices_random_vs_hessian"),
    log:
        "results/logs/figures/slices_random_vs_hessian.log",
    benchmark:
        "results/benchmarks/figures/slices_random_vs_hessian.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
        names=config["slices"]["figure_planes"],
    script:
        "../../scripts/slices_figure_random_vs_hessian.py"


rule figure_slices_1d:
    input:
        slice_paths(config["slices"]["figure_lines"]),
    output:
        figure_paths("slices_1d"),
    log:
        "results/logs/figures/slices_1d.log",
    benchmark:
        "results/benchmarks/figures/slices_1d.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
        names=config["slices"]["figure_lines"],
    script:
        "../../scripts/slices_figure_1d.py"


rule figure_projected_curvature:
    input:
        slice_paths(["curvature"]),
    output:
        figure_paths("projected_curvature"),
    log:
        "results/logs/figures/projected_curvature.log",
    benchmark:
        "results/benchmarks/figures/projected_curvature.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/curvature_figure.py"
