# Hopfield networks: capacity sweep m(alpha) per N next to the AGS curve, energy descent.


rule hopfield_capacity:
    output:
        "results/hopfield/capacity.nc",
    log:
        "results/logs/hopfield/capacity.log",
    benchmark:
        "results/benchmarks/hopfield/capacity.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=30,
    params:
        cfg=section("hopfield", "capacity"),
        seed=config["seed"],
        library=library("scripts/hopfield_capacity.py"),
    script:
        "../../scripts/hopfield_capacity.py"


rule hopfield_energy_descent:
    output:
        "results/hopfield/energy_descent.nc",
    log:
        "results/logs/hopfield/energy_descent.log",
    benchmark:
        "results/benchmarks/hopfield/energy_descent.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=10,
    params:
        cfg=section("hopfield", "energy"),
        seed=config["seed"],
        library=library("scripts/hopfield_energy_descent.py"),
    script:
        "../../scripts/hopfield_energy_descent.py"
