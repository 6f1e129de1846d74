# 2D Ising model: one file per lattice size with thermodynamics, errors, samples and exact
# references; its samples are training data for the Boltzmann machines.


wildcard_constraints:
    L=r"[1-9][0-9]*",


def ising_targets():
    """Every Ising lattice the config asks for."""
    return expand("results/ising/L{L}.nc", L=config["ising"]["L"])


def ising_simulation_params(wildcards):
    """The ising section without the list of sizes: the arguments of one lattice's run."""
    return {k: v for k, v in config["ising"].items() if k != "L"}


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
        mem_mb=2000,
        runtime=30,
    params:
        cfg=ising_simulation_params,
    script:
        "../../scripts/ising_lattice.py"
