# The paper study (config section `paper`; config/paper.yaml), after Böttcher & Wheeler,
# J. Stat. Mech. 2024. Target: `snakemake --cores 2 paper --configfile config/paper.yaml`.
#   results/paper/saddle.nc    synthetic saddle: planes, projected curvatures, exact fraction
#   results/paper/traces.nc    trace from loss values vs Hutchinson vs the exact trace
#   results/figures/paper_*    its figures: rows of FIGURE_TABLE (figures.smk), not in rule all


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
        library=library("scripts/paper_saddle.py"),
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
        library=library("scripts/paper_traces.py"),
    script:
        "../../scripts/paper_traces.py"


rule paper:
    input:
        paper_targets(),
