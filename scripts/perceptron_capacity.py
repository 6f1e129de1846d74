"""Rule perceptron_capacity: separable fraction of random-label problems vs α at several N."""

from statmech_nn import perceptron, rule


def main(smk):
    ds = perceptron.capacity_sweep(**smk.params.cfg, seed=rule.seed_of(smk))
    rule.write(smk, ds, "Perceptron capacity: linear separability of random labels", smk.params.cfg)


rule.run(snakemake, main)  # noqa: F821
