"""Rule figure_hopfield_capacity: m(alpha) per N with the AGS curve and alpha_c marked."""

from statmech_nn import io, plots, rule


def main(smk):
    ds = io.read_dataset(smk.input[0], required=["m_mean", "alpha_c", "m_theory"])
    plots.apply_style(smk.params.style)
    plots.save(plots.hopfield_capacity(ds, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
