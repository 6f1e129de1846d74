"""Every rule figure_<name> (workflow/rules/figures.smk): read the figure's inputs, draw it
with statmech_nn.plots.<params.plot> and save it in every format of figures.formats."""

from statmech_nn import plots, rule


def main(smk):
    runs = rule.read_inputs(smk, required=smk.params.required)
    draw = getattr(plots, smk.params.plot)
    plots.apply_style(smk.params.style)
    data = runs[0] if smk.params.one_file else runs
    plots.save(draw(data, style=smk.params.style, **smk.params.args), smk.output, smk.params.style)


rule.run(snakemake, main)  # noqa: F821
