"""Rule figure_rbm_loglik: exact RBM log-likelihood per epoch per method vs the optimum."""

from statmech_nn import plots, rule


def main(smk):
    runs = rule.read_inputs(smk, required=["loglik", "best_loglik"])
    plots.apply_style(smk.params.style)
    plots.save(plots.rbm_loglik(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
