"""Rule figure_slices_random_vs_hessian: the same minimum on random and Hessian planes."""

from statmech_nn import io, plots, rule


def main(smk):
    slices = [io.read_dataset(p, required=["train_loss", "centre_curvature"]) for p in smk.input]
    plots.apply_style(smk.params.style)
    fig = plots.slices_random_vs_hessian(slices, smk.params.names, smk.params.style)
    plots.save(fig, smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
