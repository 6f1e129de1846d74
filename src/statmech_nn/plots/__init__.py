"""Figures of the study: seaborn plots that read Datasets and never recompute science.

One module per stage; :mod:`~statmech_nn.plots.common` holds the style, panel
layouts, legends and :func:`save`. Every figure function has the shape
``name(data, style, **args) -> Figure``: ``data`` the Dataset of the one file
it reads or the list of Datasets of its files, ``style`` the config's
``figures`` section, ``args`` the figure's own settings. Every line style,
marker, band and reference line it draws is named in a legend.

Adding a figure (one table row, one function, one caption):

1. write ``my_figure(data, style) -> plt.Figure`` in the stage's module here and
   export it below;
2. add one row ``"my_figure": Figure(...)`` to ``FIGURES`` in
   ``workflow/rules/figures.smk`` (plot function, inputs, the rule that makes
   them, the variables it needs, the report category, its args); the loop there
   makes ``rule figure_my_figure`` whose generic script ``scripts/figure.py``
   reads the inputs, calls the function and saves every format in
   ``figures.formats`` to ``results/figures/my_figure.{pdf,png}``;
3. write its caption ``workflow/report/my_figure.rst`` and name the rule in
   ``statmech_nn.inputs.PRODUCERS`` (``"figure_my_figure": {"": <making rule>}``;
   tests/test_inputs.py checks it against the rule graph).
"""

import matplotlib

matplotlib.use("Agg")  # files only, never a window: before pyplot is imported anywhere

from statmech_nn.plots.boltzmann import rbm_loglik  # noqa: E402
from statmech_nn.plots.common import apply_style, save  # noqa: E402
from statmech_nn.plots.hessian import curvature_vs_depth, hessian_spectrum  # noqa: E402
from statmech_nn.plots.hopfield import hopfield_capacity, hopfield_energy  # noqa: E402
from statmech_nn.plots.ising import ising_thermodynamics  # noqa: E402
from statmech_nn.plots.overlaps import (  # noqa: E402
    overlap_distributions,
    overlap_vs_depth,
    overlap_vs_train_size,
)
from statmech_nn.plots.paper import (  # noqa: E402
    paper_saddle_curvature,
    paper_saddle_planes,
    paper_trace_estimators,
)
from statmech_nn.plots.perceptron import perceptron_capacity, perceptron_generalization  # noqa: E402
from statmech_nn.plots.slices import (  # noqa: E402
    projected_curvature,
    slices_1d,
    slices_random_vs_hessian,
)
from statmech_nn.plots.training import training_curves  # noqa: E402

__all__ = [
    "apply_style",
    "curvature_vs_depth",
    "hessian_spectrum",
    "hopfield_capacity",
    "hopfield_energy",
    "ising_thermodynamics",
    "overlap_distributions",
    "overlap_vs_depth",
    "overlap_vs_train_size",
    "paper_saddle_curvature",
    "paper_saddle_planes",
    "paper_trace_estimators",
    "perceptron_capacity",
    "perceptron_generalization",
    "projected_curvature",
    "rbm_loglik",
    "save",
    "slices_1d",
    "slices_random_vs_hessian",
    "training_curves",
]
