"""Rule figure_perceptron_generalization: ε(α) and R(α), simulations vs replica theory."""

from statmech_nn import plots, rule


def main(smk):
    ds = rule.read_input(smk, required=["generalization_error", "generalization_error_theory"])
    plots.apply_style(smk.params.style)
    plots.save(plots.perceptron_generalization(ds, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
