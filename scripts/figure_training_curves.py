"""Rule figure_training_curves: loss and accuracy per epoch, mean and spread over replicas."""

from statmech_nn import io, plots, rule


def main(smk):
    runs = [io.read_dataset(p, required=["train_loss", "test_accuracy"]) for p in smk.input]
    plots.apply_style(smk.params.style)
    plots.save(plots.training_curves(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
