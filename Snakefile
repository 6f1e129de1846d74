# statmech-nn: one config file, every number and figure of the study.
#
# results/
#   data/{dataset}.nc              data sets (digits from scikit-learn, teacher-student)
#   train/{dataset}/{arch}.nc      R replicas trained at once: curves, parameters, snapshots
#   hessian/{dataset}/{arch}.nc    curvature at the replicas: eigenpairs, spectra, traces
#   slices/{dataset}/{arch}/{direction}.nc  loss on a line or plane through the replicas
#   slices/{dataset}/{arch}/curvature.nc   curvature of random projections vs tr H, λmin
#   perceptron/learning_curves.nc  teacher-student ε(α), R(α), q(α) per algorithm + replica theory
#   perceptron/capacity.nc         separable fraction of random labels vs α per N + Cover's curve
#   hopfield/capacity.nc           retrieval overlap m(alpha) per N, AGS curve and alpha_c
#   hopfield/energy_descent.nc     energy and overlap along zero-T and Glauber dynamics
#   ising/L{L}.nc                  2D Ising thermodynamics, samples, Onsager/exact references
#   boltzmann/{data}_{method}.nc   RBM exact log-likelihood per epoch (cd, pcd, exact)
#   figures/{name}.{pdf,png}       made by rule figure_{name} in workflow/rules/figures.smk
#   logs/<stage>/...               one log per job, mirroring its output path
#   benchmarks/<stage>/...         wall time and memory per job
import os
import sys

from snakemake.utils import min_version, validate

min_version("9.20")

# The library in src/ is importable here and in every job, also in per-rule conda envs.
_SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, _SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [_SRC, os.environ.get("PYTHONPATH")]))
)


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/hessian.smk"
include: "workflow/rules/slices.smk"
include: "workflow/rules/perceptron.smk"
include: "workflow/rules/hopfield.smk"
include: "workflow/rules/ising.smk"
include: "workflow/rules/boltzmann.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        all_targets(),


rule figures:
    input:
        all_figures(),
