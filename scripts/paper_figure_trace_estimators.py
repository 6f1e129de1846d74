"""Rule figure_paper_trace_estimators: paperplots.trace_estimators of the paper study's file."""

from statmech_nn import paperplots, rule


def main(smk):
    ds = rule.read_input(smk, 0, required=["estimate", "trace"])
    paperplots.apply_style(smk.params.style)
    paperplots.save(paperplots.trace_estimators(ds, smk.params.style), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
