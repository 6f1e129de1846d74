"""Rule hopfield_capacity: retrieval overlap m(alpha) per N from stored and corrupted starts."""

from statmech_nn import hopfield, rule


def main(smk):
    ds = hopfield.capacity_sweep(**smk.params.cfg, seed=rule.seed_of(smk))
    rule.write(smk, ds, "Hopfield capacity sweep", smk.params.cfg)


rule.run(snakemake, main)  # noqa: F821
