"""Rule figure_slices_1d: loss along lines through the trained replicas."""

from statmech_nn import plots, rule


def main(smk):
    slices = rule.read_inputs(smk, required=["train_loss", "test_loss"])
    plots.apply_style(smk.params.style)
    fig = plots.slices_1d(slices, smk.params.names, smk.params.style)
    plots.save(fig, smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
