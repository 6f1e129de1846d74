"""Rule figure_slices_random_vs_hessian: the same minimum on random and Hessian planes."""

from statmech_nn import plots, rule


def main(smk):
    slices = rule.read_inputs(smk, required=["train_loss", "centre_curvature"])
    plots.apply_style(smk.params.style)
    fig = plots.slices_random_vs_hessian(slices, smk.params.names, smk.params.style)
    plots.save(fig, smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
