"""Rule slices_evaluate: one named loss-landscape slice through the trained replicas."""

from statmech_nn import io, landscape, rule


def main(smk):
    train = io.read_dataset(smk.input.train, required=["params", "snapshots", "status"])
    data = io.read_dataset(smk.input.data, required=["x_train", "y_train", "x_test", "y_test"])
    hessian = io.read_dataset(smk.input.hessian, ["eigenvectors"]) if smk.input.hessian else None
    cfg = smk.params.cfg
    ds = landscape.slice_study(
        train,
        data,
        cfg["direction"],
        cfg["replicas"],
        cfg["dtype"],
        cfg["memory_mb"],
        seed=rule.seed_of(smk),
        hessian=hessian,
        device=smk.params.device,
    )
    ds.attrs.update(dataset=smk.wildcards.dataset, direction=smk.wildcards.direction)
    rule.write(smk, ds, f"{smk.wildcards.direction} slice of {smk.wildcards.arch}", cfg)


rule.run(snakemake, main)  # noqa: F821
