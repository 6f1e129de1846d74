"""Rule hessian: curvature of the training loss at every trained replica."""

from statmech_nn import hessian, rule


def main(smk):
    data = rule.read_input(smk, "data", required=["x_train", "y_train"])
    trained = rule.read_input(smk, "train", required=["params", "status"])
    ds = hessian.hessian_study(
        data, trained, smk.params.cfg, seed=rule.seed_of(smk), device=smk.params.device
    )
    ds.attrs["dataset"] = smk.wildcards.dataset
    title = f"Hessian of {smk.wildcards.arch} trained on {smk.wildcards.dataset}"
    rule.write(smk, ds, title, smk.params.cfg)


rule.run(snakemake, main)  # noqa: F821
