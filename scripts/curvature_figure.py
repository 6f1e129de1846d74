"""Rule figure_projected_curvature: random-projection curvatures next to tr H / P and λmin."""

from statmech_nn import plots, rule


def main(smk):
    stats = rule.read_inputs(smk, required=["curvature", "lambda_min"])
    plots.apply_style(smk.params.style)
    plots.save(plots.projected_curvature(stats, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
