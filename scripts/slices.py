"""Rule slices_evaluate: one named loss-landscape slice through the trained replicas."""

from statmech_nn import landscape, rule


def main(smk):
    train = rule.read_input(smk, "train", required=["params", "snapshots", "status"])
    data = rule.read_input(smk, "data", required=["x_train", "y_train", "x_test", "y_test"])
    hessian = rule.read_input(smk, "hessian", ["eigenvectors"]) if smk.input.hessian else None
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
