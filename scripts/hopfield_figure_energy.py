"""Rule figure_hopfield_energy: energy per spin and overlap along the dynamics."""

from statmech_nn import io, plots, rule


def main(smk):
    ds = io.read_dataset(smk.input[0], required=["energy", "m", "pattern_energy"])
    plots.apply_style(smk.params.style)
    plots.save(plots.hopfield_energy(ds, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
