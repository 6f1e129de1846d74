"""Rule figure_ising_thermodynamics: simulated e, |m|, c, chi per L vs Onsager and enumeration."""

from statmech_nn import io, plots, rule


def main(smk):
    lattices = [io.read_dataset(p, required=["energy", "onsager_energy"]) for p in smk.input]
    plots.apply_style(smk.params.style)
    fig = plots.ising_thermodynamics(lattices, smk.params.style)
    plots.save(fig, smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
