"""Rule figure_training_curves: loss and accuracy per epoch, mean and spread over replicas."""

from statmech_nn import plots, rule


def main(smk):
    runs = rule.read_inputs(smk, required=["train_loss", "test_accuracy"])
    plots.apply_style(smk.params.style)
    plots.save(plots.training_curves(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
