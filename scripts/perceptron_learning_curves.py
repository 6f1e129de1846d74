"""Rule perceptron_learning_curves: ε(α), R(α), q(α) per student algorithm vs replica theory."""

from statmech_nn import perceptron, rule


def main(smk):
    ds = perceptron.learning_curves(**smk.params.cfg, seed=rule.seed_of(smk))
    rule.write(smk, ds, "Teacher-student perceptron learning curves", smk.params.cfg)


rule.run(snakemake, main)  # noqa: F821
