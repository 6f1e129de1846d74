# statmech-nn: one config file, every number and figure of the study.
#
# results/
#   data/{dataset}.nc              data sets (digits from scikit-learn, teacher-student)
#   train/{dataset}/{arch}.nc      R replicas trained at once: curves, parameters, snapshots
#   hessian/{dataset}/{arch}.nc    curvature at the replicas: eigenpairs, spectra, traces
#   slices/{dataset}/{arch}/{direction}.nc  loss on a line or plane through the replicas
#   slices/{dataset}/{arch}/curvature.nc   curvature of random projections vs tr H, λmin
#   views/{dataset}/{arch}/{direction}.{html,vts,json}  plane slices to turn: browser, ParaView
#   overlaps/{dataset}/{arch}.nc   replica overlaps raw/aligned, path barriers, basin count
#   perceptron/learning_curves.nc  teacher-student ε(α), R(α), q(α) per algorithm + replica theory
#   perceptron/capacity.nc         separable fraction of random labels vs α per N + Cover's curve
#   hopfield/capacity.nc           retrieval overlap m(alpha) per N, AGS curve and alpha_c
#   hopfield/energy_descent.nc     energy and overlap along zero-T and Glauber dynamics
#   ising/L{L}.nc                  2D Ising thermodynamics, samples, Onsager/exact references
#   boltzmann/{data}_{method}.nc   RBM exact log-likelihood per epoch (cd, pcd, exact)
#   paper/saddle.nc, paper/traces.nc  synthetic saddle and trace estimators (paper.smk)
#   figures/{name}.{pdf,png}       rule figure_{name}: one row of FIGURE_TABLE in workflow/rules/figures.smk
#                                  (paper_* figures: workflow/rules/paper.smk, target `paper`)
#   logs/<stage>/...               one log per job, mirroring its output path
#   benchmarks/<stage>/...         wall time and memory per job
import os
import sys

from snakemake.utils import min_version

min_version("9.20")

# The library in src/ is importable here and in every job, also in per-rule conda envs
# and when this workflow is used as a module of another one (hence the current basedir);
# models/ holds researchers' network factories (config `models:`; the working directory's
# models/ folder is searched too).
_BASE = workflow.current_basedir.get_path_or_uri(secret_free=True)
_SRC = os.path.join(_BASE, "src")
sys.path.insert(0, _SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(
            None, [_SRC, os.path.join(_BASE, "models"), os.environ.get("PYTHONPATH")]
        )
    )
)

from statmech_nn import configcheck

# config/config.yaml only when no --configfile is given: `--configfile X` is X plus the
# schema's defaults, never X merged into config/config.yaml (README, "Configs").
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# Defaults, bounds, finiteness and cross-references, before any job; a short message
# naming the key on failure (statmech_nn.configcheck).
_SCHEMA = os.path.join(_BASE, "workflow/schemas/config.schema.yaml")
try:
    configcheck.check(config, configcheck.load_schema(_SCHEMA))
except configcheck.ConfigError as err:
    sys.exit(f"statmech-nn: {err}")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/hessian.smk"
include: "workflow/rules/slices.smk"
include: "workflow/rules/views.smk"
include: "workflow/rules/overlaps.smk"
include: "workflow/rules/perceptron.smk"
include: "workflow/rules/hopfield.smk"
include: "workflow/rules/ising.smk"
include: "workflow/rules/boltzmann.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        all_targets(),


rule figures:
    input:
        all_figures(),
