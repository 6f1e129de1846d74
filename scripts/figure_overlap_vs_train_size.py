"""Rule figure_overlap_vs_train_size: overlap, barrier and basin count against training-set size."""

from statmech_nn import io, plots, rule


def main(smk):
    runs = [io.read_dataset(p, required=["q_pair", "barrier", "n_basins"]) for p in smk.input]
    plots.apply_style(smk.params.style)
    plots.save(plots.overlap_vs_train_size(runs, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
