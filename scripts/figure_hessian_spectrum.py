"""Rule figure_hessian_spectrum: dense Hessian spectra with the SLQ density on top."""

from statmech_nn import plots, rule


def main(smk):
    runs = rule.read_inputs(smk, required=["density", "lambda_extreme"])
    plots.apply_style(smk.params.style)
    plots.save(plots.hessian_spectrum(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
