"""Rule figure_perceptron_generalization: ε(α) and R(α), simulations vs replica theory."""

from statmech_nn import io, plots, rule


def main(smk):
    ds = io.read_dataset(
        smk.input[0], required=["generalization_error", "generalization_error_theory"]
    )
    plots.apply_style(smk.params.style)
    plots.save(plots.perceptron_generalization(ds, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
