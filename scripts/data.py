"""Rule data_make: build one data set from its config entry."""

from statmech_nn import data, rule


def main(smk):
    seed = data.split_seed(smk.params.seed, smk.params.spec)
    ds = data.make_dataset(smk.params.spec, seed=seed, name=smk.wildcards.dataset)
    rule.write(smk, ds, f"data set {smk.wildcards.dataset}", smk.params.spec, seed=seed)


rule.run(snakemake, main)  # noqa: F821
