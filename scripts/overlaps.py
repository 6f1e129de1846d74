"""Rule overlaps: overlaps, permutation alignment, barriers and basins of trained replicas."""

from statmech_nn import io, overlap, rule


def main(smk):
    train = io.read_dataset(smk.input.train, required=["params", "status"])
    data = io.read_dataset(smk.input.data, required=["x_train", "y_train"])
    ds = overlap.overlap_study(train, data, **smk.params.cfg, source=smk.input.train)
    ds.attrs.update(dataset=smk.wildcards.dataset)
    rule.write(
        smk, ds, f"overlaps of {smk.wildcards.arch} on {smk.wildcards.dataset}", smk.params.cfg
    )


rule.run(snakemake, main)  # noqa: F821
