"""Rule figure_perceptron_capacity: separable fraction vs α per N, Cover's curve, α_c."""

from statmech_nn import plots, rule


def main(smk):
    ds = rule.read_input(smk, required=["separable_fraction", "cover_curve", "alpha_c"])
    plots.apply_style(smk.params.style)
    plots.save(plots.perceptron_capacity(ds, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
