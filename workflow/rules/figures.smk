rule figure_training_curves:
    input:
        train_targets(),
    output:
        figure_outputs("training_curves", "Training"),
    log:
        "results/logs/figures/training_curves.log",
    benchmark:
        "results/benchmarks/figures/training_curves.tsv"
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
        "../../scripts/figure_training_curves.py"


rule figure_perceptron_generalization:
    input:
        "results/perceptron/learning_curves.nc",
    output:
        figure_outputs("perceptron_generalization", "Perceptron"),
    log:
        "results/logs/figures/perceptron_generalization.log",
    benchmark:
        "results/benchmarks/figures/perceptron_generalization.tsv"
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=10,
    params:
        style=section("figures"),
    script:
        "../../scripts/figure_perceptron_generalization.py"


rule figure_perceptron_capacity:
    input:
        "results/perceptron/capacity.nc",
    output:
        figure_outputs("perceptron_capacity", "Perceptron"),
    log:
        "results/logs/figures/perceptron_capacity.log",
    benchmark:
        "results/benchmarks/figures/perceptron_capacity.tsv"
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=10,
    params:
        style=section("figures"),
    script:
        "../../scripts/figure_perceptron_capacity.py"


rule figure_hopfield_capacity:
    input:
        "results/hopfield/capacity.nc",
    output:
        figure_outputs("hopfield_capacity", "Hopfield"),
    log:
        "results/logs/figures/hopfield_capacity.log",
    benchmark:
        "results/benchmarks/figures/hopfield_capacity.tsv"
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
        "../../scripts/hopfield_figure_capacity.py"


rule figure_hopfield_energy:
    input:
        "results/hopfield/energy_descent.nc",
    output:
        figure_outputs("hopfield_energy", "Hopfield"),
    log:
        "results/logs/figures/hopfield_energy.log",
    benchmark:
        "results/benchmarks/figures/hopfield_energy.tsv"
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
        "../../scripts/hopfield_figure_energy.py"


rule figure_ising_thermodynamics:
    input:
        ising_targets(),
    output:
        figure_outputs("ising_thermodynamics", "Ising"),
    log:
        "results/logs/figures/ising_thermodynamics.log",
    benchmark:
        "results/benchmarks/figures/ising_thermodynamics.tsv"
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
        "../../scripts/ising_figure_thermodynamics.py"


rule figure_rbm_loglik:
    input:
        boltzmann_targets(),
    output:
        figure_outputs("rbm_loglik", "Boltzmann"),
    log:
        "results/logs/figures/rbm_loglik.log",
    benchmark:
        "results/benchmarks/figures/rbm_loglik.tsv"
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
        "../../scripts/boltzmann_figure_loglik.py"


# --- end Ising family ---


rule figure_slices_random_vs_hessian:
    input:
        slice_paths(config["slices"]["figure_planes"]),
    output:
        figure_outputs("slices_random_vs_hessian", "Landscape"),
    log:
        "results/logs/figures/slices_random_vs_hessian.log",
    benchmark:
        "results/benchmarks/figures/slices_random_vs_hessian.tsv"
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=10,
    params:
        style=section("figures"),
        names=config["slices"]["figure_planes"],
    script:
        "../../scripts/slices_figure_random_vs_hessian.py"


rule figure_slices_1d:
    input:
        slice_paths(config["slices"]["figure_lines"]),
    output:
        figure_outputs("slices_1d", "Landscape"),
    log:
        "results/logs/figures/slices_1d.log",
    benchmark:
        "results/benchmarks/figures/slices_1d.tsv"
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=10,
    params:
        style=section("figures"),
        names=config["slices"]["figure_lines"],
    script:
        "../../scripts/slices_figure_1d.py"


rule figure_projected_curvature:
    input:
        slice_paths(["curvature"]),
    output:
        figure_outputs("projected_curvature", "Landscape"),
    log:
        "results/logs/figures/projected_curvature.log",
    benchmark:
        "results/benchmarks/figures/projected_curvature.tsv"
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


rule figure_hessian_spectrum:
    input:
        hessian_targets(),
    output:
        figure_outputs("hessian_spectrum", "Hessian"),
    log:
        "results/logs/figures/hessian_spectrum.log",
    benchmark:
        "results/benchmarks/figures/hessian_spectrum.tsv"
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
        "../../scripts/figure_hessian_spectrum.py"


rule figure_curvature_vs_depth:
    input:
        hessian_targets(),
    output:
        figure_outputs("curvature_vs_depth", "Hessian"),
    log:
        "results/logs/figures/curvature_vs_depth.log",
    benchmark:
        "results/benchmarks/figures/curvature_vs_depth.tsv"
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
        "../../scripts/figure_curvature_vs_depth.py"


rule figure_overlap_distributions:
    input:
        overlaps_targets(),
    output:
        figure_outputs("overlap_distributions", "Overlaps"),
    log:
        "results/logs/figures/overlap_distributions.log",
    benchmark:
        "results/benchmarks/figures/overlap_distributions.tsv"
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
        "../../scripts/figure_overlap_distributions.py"


rule figure_overlap_vs_depth:
    input:
        overlaps_targets(),
    output:
        figure_outputs("overlap_vs_depth", "Overlaps"),
    log:
        "results/logs/figures/overlap_vs_depth.log",
    benchmark:
        "results/benchmarks/figures/overlap_vs_depth.tsv"
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
        "../../scripts/figure_overlap_vs_depth.py"


rule figure_overlap_vs_train_size:
    input:
        overlaps_targets(),
    output:
        figure_outputs("overlap_vs_train_size", "Overlaps"),
    log:
        "results/logs/figures/overlap_vs_train_size.log",
    benchmark:
        "results/benchmarks/figures/overlap_vs_train_size.tsv"
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
        "../../scripts/figure_overlap_vs_train_size.py"
