"""Rule ising_lattice: thermodynamics, samples and exact references of one L x L torus."""

from statmech_nn import ising, rule


def main(smk):
    ds = ising.thermodynamics(L=int(smk.wildcards.L), **smk.params.cfg, seed=rule.seed_of(smk))
    rule.write(smk, ds, f"2D Ising model, L = {smk.wildcards.L}", smk.params.cfg)


rule.run(snakemake, main)  # noqa: F821
