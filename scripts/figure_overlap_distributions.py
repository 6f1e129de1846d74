"""Rule figure_overlap_distributions: P(q) per architecture, raw and aligned."""

from statmech_nn import plots, rule


def main(smk):
    runs = rule.read_inputs(smk, required=["q_pair"])
    plots.apply_style(smk.params.style)
    plots.save(plots.overlap_distributions(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
