"""Rule overlaps: overlaps, permutation alignment, barriers and basins of trained replicas."""

from statmech_nn import overlap, rule


def main(smk):
    train = rule.read_input(smk, "train", required=["params", "status"])
    data = rule.read_input(smk, "data", required=["x_train", "y_train"])
    ds = overlap.overlap_study(train, data, **smk.params.cfg, source=smk.input.train)
    ds.attrs.update(dataset=smk.wildcards.dataset)
    rule.write(
        smk, ds, f"overlaps of {smk.wildcards.arch} on {smk.wildcards.dataset}", smk.params.cfg
    )


rule.run(snakemake, main)  # noqa: F821
