"""Rule figure_ising_thermodynamics: simulated e, |m|, c, chi per L vs Onsager and enumeration."""

from statmech_nn import plots, rule


def main(smk):
    lattices = rule.read_inputs(smk, required=["energy", "onsager_energy"])
    plots.apply_style(smk.params.style)
    fig = plots.ising_thermodynamics(lattices, smk.params.style)
    plots.save(fig, smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
