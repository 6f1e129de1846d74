"""Rule data_make: build one data set from its config entry."""

from statmech_nn import data, rule


def main(smk):
    ds = data.make_dataset(smk.params.spec, seed=rule.seed_of(smk), name=smk.wildcards.dataset)
    rule.write(smk, ds, f"data set {smk.wildcards.dataset}", smk.params.spec)


rule.run(snakemake, main)  # noqa: F821
