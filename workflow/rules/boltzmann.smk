# Restricted Boltzmann machines trained on bars-and-stripes and on Ising samples, with
# exact log-likelihood curves.


wildcard_constraints:
    data=r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*",
    method=r"cd|pcd|exact",


for _name in config["boltzmann"]["train_on"]:
    if _name not in config["boltzmann"]["datasets"]:
        raise ValueError(
            f"config boltzmann.train_on: {_name!r} is not defined under boltzmann.datasets "
            f"(defined: {', '.join(config['boltzmann']['datasets'])})"
        )
    _spec = config["boltzmann"]["datasets"][_name]
    if (
        _spec["kind"] == "ising"
        and _spec["temperature"] not in config["ising"]["temperatures"]
    ):
        raise ValueError(
            f"config boltzmann.datasets.{_name}.temperature: {_spec['temperature']} is not one "
            f"of ising.temperatures ({', '.join(map(str, config['ising']['temperatures']))})"
        )


def boltzmann_targets():
    """Every (data set, method) training run the config asks for."""
    return expand(
        "results/boltzmann/{data}_{method}.nc",
        data=config["boltzmann"]["train_on"],
        method=config["boltzmann"]["methods"],
    )


def get_boltzmann_spec(wildcards):
    return config["boltzmann"]["datasets"][wildcards.data]


def get_boltzmann_input(wildcards):
    """The Ising lattice whose samples a data set uses; nothing for generated data."""
    spec = get_boltzmann_spec(wildcards)
    return [f"results/ising/L{spec.get('L', 4)}.nc"] if spec["kind"] == "ising" else []


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
        mem_mb=1000,
        runtime=20,
    params:
        spec=get_boltzmann_spec,
        training=lookup(dpath="boltzmann/training", within=config),
    script:
        "../../scripts/boltzmann_train.py"
