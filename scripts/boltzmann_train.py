"""Rule boltzmann_train: an RBM trained on one data set with one method, exact log-likelihood."""

from statmech_nn import boltzmann, rule


def main(smk):
    ising_ds = rule.read_input(smk, required=["samples"]) if smk.input else None
    ds = boltzmann.study(
        smk.params.spec, smk.params.training, smk.wildcards.method, rule.seed_of(smk), ising_ds
    )
    ds.attrs["dataset"] = smk.wildcards.data
    config = {"data": smk.params.spec, "training": smk.params.training}
    rule.write(smk, ds, f"RBM ({smk.wildcards.method}) on {smk.wildcards.data}", config)


rule.run(snakemake, main)  # noqa: F821
