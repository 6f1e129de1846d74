"""Rule figure_hopfield_energy: energy per spin and overlap along the dynamics."""

from statmech_nn import plots, rule


def main(smk):
    ds = rule.read_input(smk, required=["energy", "m", "pattern_energy"])
    plots.apply_style(smk.params.style)
    plots.save(plots.hopfield_energy(ds, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
