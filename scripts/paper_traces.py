"""Rule paper_traces: trace estimates from loss values and by Hutchinson vs the exact trace."""

from statmech_nn import rule
from statmech_nn.landscape.synthetic_study import trace_study


def main(smk):
    cfg = smk.params.cfg
    ds = trace_study(cfg["saddle"], cfg["traces"], rule.seed_of(smk))
    rule.write(smk, ds, "trace estimators on the synthetic saddle", cfg)


rule.run(snakemake, main)  # noqa: F821
