"""Rule figure_overlap_vs_train_size: overlap, barrier and basin count against training-set size."""

from statmech_nn import plots, rule


def main(smk):
    runs = rule.read_inputs(smk, required=["q_pair", "barrier", "n_basins"])
    plots.apply_style(smk.params.style)
    plots.save(plots.overlap_vs_train_size(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
