# 2D Ising model: one file per lattice size with thermodynamics, errors, samples and exact
# references; its samples are training data for the Boltzmann machines.


rule ising_lattice:
    output:
        "results/ising/L{L}.nc",
    log:
        "results/logs/ising/L{L}.log",
    benchmark:
        "results/benchmarks/ising/L{L}.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=30,
    params:
        cfg=section("ising", drop=("L",)),
        seed=config["seed"],
        library=library("scripts/ising_lattice.py"),
    script:
        "../../scripts/ising_lattice.py"
