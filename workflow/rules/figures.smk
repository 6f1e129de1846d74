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


# --- Ising family: Hopfield networks, 2D Ising model, RBMs (issue 6) ---
rule figure_hopfield_capacity:
    input:
        "results/hopfield/capacity.nc",
    output:
        figure_paths("hopfield_capacity"),
    log:
        "results/logs/figures/hopfield_capacity.log",
    benchmark:
        "results/benchmarks/figures/hopfield_capacity.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/hopfield_figure_capacity.py"


rule figure_hopfield_energy:
    input:
        "results/hopfield/energy_descent.nc",
    output:
        figure_paths("hopfield_energy"),
    log:
        "results/logs/figures/hopfield_energy.log",
    benchmark:
        "results/benchmarks/figures/hopfield_energy.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/hopfield_figure_energy.py"


rule figure_ising_thermodynamics:
    input:
        ising_targets(),
    output:
        figure_paths("ising_thermodynamics"),
    log:
        "results/logs/figures/ising_thermodynamics.log",
    benchmark:
        "results/benchmarks/figures/ising_thermodynamics.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/ising_figure_thermodynamics.py"


rule figure_rbm_loglik:
    input:
        boltzmann_targets(),
    output:
        figure_paths("rbm_loglik"),
    log:
        "results/logs/figures/rbm_loglik.log",
    benchmark:
        "results/benchmarks/figures/rbm_loglik.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        style=lookup(dpath="figures", within=config),
    script:
        "../../scripts/boltzmann_figure_loglik.py"


# --- end Ising family ---
