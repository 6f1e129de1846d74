# Restricted Boltzmann machines trained on bars-and-stripes and on Ising samples, with
# exact log-likelihood curves.


rule boltzmann_train:
    input:
        get_boltzmann_input,
    output:
        "results/boltzmann/{data}_{method}.nc",
    log:
        "results/logs/boltzmann/{data}_{method}.log",
    benchmark:
        "results/benchmarks/boltzmann/{data}_{method}.tsv"
    conda:
        "../envs/statmech.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=20,
    params:
        spec=get_boltzmann_spec,
        training=section("boltzmann", "training"),
        seed=config["seed"],
        library=library("scripts/boltzmann_train.py"),
        made_from=made_from,
    script:
        "../../scripts/boltzmann_train.py"
