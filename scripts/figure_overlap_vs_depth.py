"""Rule figure_overlap_vs_depth: mean overlap, barrier and basin count against depth."""

from statmech_nn import plots, rule


def main(smk):
    runs = rule.read_inputs(smk, required=["q_pair", "barrier", "n_basins"])
    plots.apply_style(smk.params.style)
    plots.save(plots.overlap_vs_depth(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
