# The paper study (config section `paper`; config/paper.yaml), after Böttcher & Wheeler,
# J. Stat. Mech. 2024. Target: `snakemake --cores 2 paper --configfile config/paper.yaml`.
#   results/paper/saddle.nc    synthetic saddle: planes, projected curvatures, exact fraction
#   results/paper/traces.nc    trace from loss values vs Hutchinson vs the exact trace
#   results/figures/paper_*    its figures; the classifiers' figures are figures.smk's own


rule paper_saddle:
    output:
        "results/paper/saddle.nc",
    log:
        "results/logs/paper/saddle.log",
    benchmark:
        "results/benchmarks/paper/saddle.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=30,
    params:
        cfg=section("paper", "saddle"),
        seed=config["seed"],
    script:
        "../../scripts/paper_saddle.py"


rule paper_traces:
    output:
        "results/paper/traces.nc",
    log:
        "results/logs/paper/traces.log",
    benchmark:
        "results/benchmarks/paper/traces.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=30,
    params:
        cfg=section("paper", drop=("function",)),
        seed=config["seed"],
    script:
        "../../scripts/paper_traces.py"


rule figure_paper_saddle_planes:
    input:
        "results/paper/saddle.nc",
    output:
        paper_figure_outputs("paper_saddle_planes"),
    log:
        "results/logs/figures/paper_saddle_planes.log",
    benchmark:
        "results/benchmarks/figures/paper_saddle_planes.tsv"
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=10,
    params:
        style=section("figures"),
    script:
        "../../scripts/paper_figure_saddle_planes.py"


rule figure_paper_saddle_curvature:
    input:
        "results/paper/saddle.nc",
    output:
        paper_figure_outputs("paper_saddle_curvature"),
    log:
        "results/logs/figures/paper_saddle_curvature.log",
    benchmark:
        "results/benchmarks/figures/paper_saddle_curvature.tsv"
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=10,
    params:
        style=section("figures"),
    script:
        "../../scripts/paper_figure_saddle_curvature.py"


rule figure_paper_trace_estimators:
    input:
        "results/paper/traces.nc",
    output:
        paper_figure_outputs("paper_trace_estimators"),
    log:
        "results/logs/figures/paper_trace_estimators.log",
    benchmark:
        "results/benchmarks/figures/paper_trace_estimators.tsv"
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=10,
    params:
        style=section("figures"),
    script:
        "../../scripts/paper_figure_trace_estimators.py"


rule figure_paper_function_planes:
    input:
        lambda wc: paper_function_slices(paper_function()["planes"]),
    output:
        paper_figure_outputs("paper_function_planes"),
    log:
        "results/logs/figures/paper_function_planes.log",
    benchmark:
        "results/benchmarks/figures/paper_function_planes.tsv"
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=10,
    params:
        style=section("figures"),
        names=config["paper"]["function"]["planes"],
    script:
        "../../scripts/slices_figure_random_vs_hessian.py"


rule figure_paper_function_curvature:
    input:
        lambda wc: paper_function_slices(["curvature"]),
    output:
        paper_figure_outputs("paper_function_curvature"),
    log:
        "results/logs/figures/paper_function_curvature.log",
    benchmark:
        "results/benchmarks/figures/paper_function_curvature.tsv"
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=10,
    params:
        style=section("figures"),
    script:
        "../../scripts/curvature_figure.py"


rule paper:
    input:
        paper_targets(),
