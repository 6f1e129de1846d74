"""Rule hopfield_energy_descent: energy and overlap along zero-T and Glauber dynamics."""

from statmech_nn import hopfield, rule


def main(smk):
    ds = hopfield.energy_descent(**smk.params.cfg, seed=rule.seed_of(smk))
    rule.write(smk, ds, "Hopfield energy descent", smk.params.cfg)


rule.run(snakemake, main)  # noqa: F821
