"""Rule figure_overlap_distributions: P(q) per architecture, raw and aligned."""

from statmech_nn import io, plots, rule


def main(smk):
    runs = [io.read_dataset(p, required=["q_pair"]) for p in smk.input]
    plots.apply_style(smk.params.style)
    plots.save(plots.overlap_distributions(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
