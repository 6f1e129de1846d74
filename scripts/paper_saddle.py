"""Rule paper_saddle: planes and projected curvatures of the synthetic saddle."""

from statmech_nn import rule
from statmech_nn.landscape.synthetic_study import saddle_study


def main(smk):
    ds = saddle_study(smk.params.cfg, rule.seed_of(smk))
    rule.write(smk, ds, "synthetic saddle with a known Hessian spectrum", smk.params.cfg)


rule.run(snakemake, main)  # noqa: F821
