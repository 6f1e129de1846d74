"""Rule slices_curvature_stats: curvature of random projections next to tr H and λmin."""

from statmech_nn import landscape, rule


def main(smk):
    train = rule.read_input(smk, "train", required=["params", "status"])
    data = rule.read_input(smk, "data", required=["x_train", "y_train"])
    hessian = rule.read_input(smk, "hessian", required=["eigenvectors"])
    cfg = smk.params.cfg
    ds = landscape.curvature_study(
        train,
        data,
        hessian,
        cfg["replicas"],
        cfg["directions"],
        cfg["fd_step"],
        cfg["memory_mb"],
        seed=rule.seed_of(smk),
        device=smk.params.device,
    )
    ds.attrs["dataset"] = smk.wildcards.dataset
    rule.write(smk, ds, f"projected curvature of {smk.wildcards.arch}", cfg)


rule.run(snakemake, main)  # noqa: F821
