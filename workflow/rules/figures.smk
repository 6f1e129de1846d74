# Every figure of the study: one row of FIGURE_TABLE each, one rule per row made by the loop
# below, one script for all (scripts/figure.py). Figure `name` is
# results/figures/{name}.{figures.formats}, made by rule figure_{name}, drawn by
# statmech_nn.plots.<plot>, captioned by workflow/report/{name}.rst in the report.
# Adding a figure: one row here, one plot function (statmech_nn.plots, module docstring).


def figure(plot, input, required, category, one_file=False, in_all=True, **args):
    """One row of the figure table.

    plot: the function of statmech_nn.plots that draws it, called as
        plot(data, style=<config figures section>, **args);
    input: the files it reads (each checked to come from the rule that makes it);
    required: the variables every input must hold;
    category: the report section its PNG is listed under;
    one_file: pass the one input's Dataset instead of the list of Datasets;
    in_all: among the targets of `all`, or else made only by its own target (`paper`);
    args: the figure's own settings, params of its rule (a change redraws it).
    """
    return dict(
        plot=plot,
        input=input,
        required=sorted(required),
        category=category,
        one_file=one_file,
        in_all=in_all,
        args=canonical(args),
    )


FIGURE_TABLE = {
    "training_curves": figure(
        "training_curves",
        train_targets(),
        ["train_loss", "test_accuracy"],
        "Training",
    ),
    "perceptron_generalization": figure(
        "perceptron_generalization",
        ["results/perceptron/learning_curves.nc"],
        ["generalization_error", "generalization_error_theory"],
        "Perceptron",
        one_file=True,
    ),
    "perceptron_capacity": figure(
        "perceptron_capacity",
        ["results/perceptron/capacity.nc"],
        ["separable_fraction", "cover_curve", "alpha_c"],
        "Perceptron",
        one_file=True,
    ),
    "hopfield_capacity": figure(
        "hopfield_capacity",
        ["results/hopfield/capacity.nc"],
        ["m_mean", "alpha_c", "m_theory"],
        "Hopfield",
        one_file=True,
    ),
    "hopfield_energy": figure(
        "hopfield_energy",
        ["results/hopfield/energy_descent.nc"],
        ["energy", "m", "pattern_energy"],
        "Hopfield",
        one_file=True,
    ),
    "ising_thermodynamics": figure(
        "ising_thermodynamics",
        ising_targets(),
        ["energy", "onsager_energy"],
        "Ising",
    ),
    "rbm_loglik": figure(
        "rbm_loglik",
        boltzmann_targets(),
        ["loglik", "best_loglik"],
        "Boltzmann",
    ),
    "slices_random_vs_hessian": figure(
        "slices_random_vs_hessian",
        slice_paths(config["slices"]["figure_planes"]),
        ["train_loss", "centre_curvature"],
        "Landscape",
        names=config["slices"]["figure_planes"],
    ),
    # the paper study (config/paper.yaml, target `paper`): the synthetic saddle, the trace
    # estimators and the function approximator's planes and projected curvature
    "paper_saddle_planes": figure(
        "paper_saddle_planes",
        ["results/paper/saddle.nc"],
        ["loss", "curvature"],
        "Paper",
        one_file=True,
        in_all=False,
    ),
    "paper_saddle_curvature": figure(
        "paper_saddle_curvature",
        ["results/paper/saddle.nc"],
        ["loss", "curvature"],
        "Paper",
        one_file=True,
        in_all=False,
    ),
    "paper_trace_estimators": figure(
        "paper_trace_estimators",
        ["results/paper/traces.nc"],
        ["estimate", "trace"],
        "Paper",
        one_file=True,
        in_all=False,
    ),
    "paper_function_planes": figure(
        "slices_random_vs_hessian",
        paper_function_planes,
        ["train_loss", "centre_curvature"],
        "Paper",
        in_all=False,
        names=config["paper"]["function"]["planes"],
    ),
    "paper_function_curvature": figure(
        "projected_curvature",
        paper_function_curvature,
        ["curvature", "lambda_min"],
        "Paper",
        in_all=False,
    ),
    "slices_1d": figure(
        "slices_1d",
        slice_paths(config["slices"]["figure_lines"]),
        ["train_loss", "test_loss"],
        "Landscape",
        names=config["slices"]["figure_lines"],
    ),
    "projected_curvature": figure(
        "projected_curvature",
        slice_paths(["curvature"]),
        ["curvature", "lambda_min"],
        "Landscape",
    ),
    "hessian_spectrum": figure(
        "hessian_spectrum",
        hessian_targets(),
        ["density", "lambda_extreme"],
        "Hessian",
    ),
    "curvature_vs_depth": figure(
        "curvature_vs_depth",
        hessian_targets(),
        ["lambda_extreme", "mean_curvature"],
        "Hessian",
    ),
    "overlap_distributions": figure(
        "overlap_distributions",
        overlaps_targets(),
        ["q_pair"],
        "Overlaps",
    ),
    "overlap_vs_depth": figure(
        "overlap_vs_depth",
        overlaps_targets(),
        ["q_pair", "barrier", "n_basins", "n_basins_by_threshold"],
        "Overlaps",
    ),
    "overlap_vs_train_size": figure(
        "overlap_vs_train_size",
        overlaps_targets(),
        ["q_pair", "barrier", "n_basins"],
        "Overlaps",
    ),
}


for _name, _row in FIGURE_TABLE.items():

    rule:
        name:
            f"figure_{_name}"
        input:
            _row["input"],
        output:
            figure_outputs(_name, _row["category"], _row["in_all"]),
        log:
            f"results/logs/figures/{_name}.log",
        benchmark:
            f"results/benchmarks/figures/{_name}.tsv"
        localrule: True
        conda:
            "../envs/statmech.yaml"
        threads: 1
        resources:
            mem_mb=lambda wc, attempt: 2000 * attempt,
            runtime=10,
        params:
            style=section("figures"),
            plot=_row["plot"],
            required=_row["required"],
            one_file=_row["one_file"],
            args=_row["args"],
            library=figure_library(_row["plot"]),
            made_from=made_from,
        script:
            "../../scripts/figure.py"
