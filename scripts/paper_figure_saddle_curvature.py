"""Rule figure_paper_saddle_curvature: paperplots.saddle_curvature of the paper study's file."""

from statmech_nn import paperplots, rule


def main(smk):
    ds = rule.read_input(smk, 0, required=["loss", "curvature"])
    paperplots.apply_style(smk.params.style)
    paperplots.save(paperplots.saddle_curvature(ds, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
