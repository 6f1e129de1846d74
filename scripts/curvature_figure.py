"""Rule figure_projected_curvature: random-projection curvatures next to tr H / P and λmin."""

from statmech_nn import io, plots, rule


def main(smk):
    stats = [io.read_dataset(p, required=["curvature", "lambda_min"]) for p in smk.input]
    plots.apply_style(smk.params.style)
    plots.save(plots.projected_curvature(stats, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
