"""Rule figure_hopfield_capacity: m(alpha) per N with the AGS curve and alpha_c marked."""

from statmech_nn import plots, rule


def main(smk):
    ds = rule.read_input(smk, required=["m_mean", "alpha_c", "m_theory"])
    plots.apply_style(smk.params.style)
    plots.save(plots.hopfield_capacity(ds, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
