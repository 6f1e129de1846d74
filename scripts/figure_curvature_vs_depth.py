"""Rule figure_curvature_vs_depth: lambda_max, lambda_min and tr H / P across architectures."""

from statmech_nn import plots, rule


def main(smk):
    runs = rule.read_inputs(smk, required=["lambda_extreme", "mean_curvature"])
    plots.apply_style(smk.params.style)
    plots.save(plots.curvature_vs_depth(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
