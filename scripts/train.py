"""Rule train_replicas: train R replicas of one architecture on one data set."""

from statmech_nn import rule, train


def main(smk):
    data = rule.read_input(smk, required=["x_train", "y_train", "x_test", "y_test"])
    cfg = smk.params.cfg
    with rule.progress(cfg["epochs"], f"train {smk.wildcards.arch}") as bar:
        ds = train.train_study(
            data,
            smk.wildcards.arch,
            cfg,
            seed=rule.seed_of(smk),
            device=smk.params.device,
            progress=lambda epoch: bar.update(),
            models={smk.wildcards.arch: smk.params.network} if smk.params.network else None,
        )
    ds.attrs["dataset"] = smk.wildcards.dataset
    rule.write(smk, ds, f"{smk.wildcards.arch} trained on {smk.wildcards.dataset}", cfg)


rule.run(snakemake, main)  # noqa: F821
