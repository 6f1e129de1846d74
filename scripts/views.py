"""Rule views_plane: a plane slice as a turnable 3-D surface (HTML) and a VTK grid."""

from statmech_nn import rule, views


def main(smk):
    ds = rule.read_input(smk, 0, required=["train_loss", "direction_norm", "axis_kind"])
    views.write_views(ds, smk.output.html, smk.output.vts, smk.output.meta)
    rule.log.info("wrote %s", ", ".join(smk.output))


rule.run(snakemake, main)  # noqa: F821
