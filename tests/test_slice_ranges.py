"""Line ranges chosen from the measured curvature (``ranges: auto``, issue 16 item 2).

On a quadratic objective (a linear model with the squared loss, plus the L2 term) the
second-order expansion is exact, so a line of range ±r with r = √(2·rise/(|κ||d|²))
rises by exactly ``rise`` on average over its two ends (and at each end at the minimum).
"""

import numpy as np
import pytest
import torch

from statmech_nn import landscape as ls
from statmech_nn.errors import InputError
from statmech_nn.landscape.local import AUTO_RANGE_MIN, auto_ranges
from statmech_nn.nets import build_network

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
WD, RISE = 0.01, 0.05


def _quadratic(n=40, dim=6, seed=0):
    """A linear model on real targets: ½ mean (wᵀx − y)² + (wd/2)|w|², and its minimiser."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=F64)
    y = x @ torch.randn(dim, generator=gen, dtype=F64) + 0.3 * torch.randn(
        n, generator=gen, dtype=F64
    )
    net = build_network("perceptron", (dim,), 1)
    # gradient (XᵀX w − Xᵀy)/n + wd w = 0
    w = torch.linalg.solve(x.T @ x / n + WD * torch.eye(dim, dtype=F64), x.T @ y / n)[None]
    (name,) = net.shapes
    best = net.flatten({name: w})
    return net, x, y, best


def test_auto_range_rises_by_auto_rise_at_the_ends_of_every_replica():
    net, x, y, best = _quadratic()
    off = best + 0.2 * torch.randn(
        best.shape, generator=torch.Generator().manual_seed(4), dtype=F64
    )
    params = torch.stack([best, off])  # a minimum and a point with a slope
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    for normalisation in ("unit", "filter"):
        ds = ls.slice_dataset(
            net, params, data, "mse", ["random"], "auto", 21, normalisation, seed=3,
            weight_decay=WD, auto_rise=RISE,
        )  # fmt: skip
        loss = ds.train_loss.values
        centre = loss[:, 10]
        mean_rise = 0.5 * (loss[:, 0] + loss[:, -1]) - centre
        np.testing.assert_allclose(mean_rise, RISE, rtol=1e-9)
        np.testing.assert_allclose(loss[0, [0, -1]] - centre[0], RISE, rtol=1e-7)  # g = 0
        assert not np.allclose(loss[1, [0, -1]] - centre[1], RISE, rtol=1e-3)  # g ≠ 0
        # the grid is per replica: a ∈ [−1, 1] in units of r, coordinates r·a stored
        assert ds.a_coordinate.dims == ("replica", "a")
        r = ds.axis_range.values[:, 0]
        np.testing.assert_allclose(ds.a_coordinate.values, r[:, None] * ds.a.values[None])
        kappa, norm = ds.axis_curvature.values[:, 0], ds.direction_norm.values[:, 0]
        np.testing.assert_allclose(r, np.sqrt(2 * RISE / (kappa * norm**2)), rtol=1e-12)
        np.testing.assert_allclose(ds.centre_curvature.values[:, 0], kappa, rtol=1e-8)
        assert r[0] != r[1] and ds.attrs["ranges"] == "auto" and ds.attrs["auto_rise"] == RISE
        assert ds.critical.values[0].all() and not ds.critical.values[1].all()


def test_auto_range_along_a_hessian_eigenvector_uses_its_eigenvalue():
    net, x, y, best = _quadratic()
    hess = torch.func.hessian(
        lambda t: (
            0.5 * ((x @ net.unflatten(t)["layer0.weight"][0] - y) ** 2).mean()
            + 0.5 * WD * (t**2).sum()
        )
    )(best)
    lam, vec = torch.linalg.eigh(hess)
    vectors = torch.stack([vec[:, -1], vec[:, 0]])[None]  # (replica, max/min, P)
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ds = ls.slice_dataset(
        net, best[None], data, "mse", ["hessian_min"], "auto", 11, "unit",
        hessian_vectors=vectors, weight_decay=WD, auto_rise=RISE,
    )  # fmt: skip
    np.testing.assert_allclose(ds.axis_curvature.values[0, 0], lam[0], rtol=1e-10)
    np.testing.assert_allclose(ds.axis_range.values[0, 0], np.sqrt(2 * RISE / lam[0]), rtol=1e-10)
    rise = ds.train_loss.values[0, [0, -1]] - ds.train_loss.values[0, 5]
    np.testing.assert_allclose(rise, RISE, rtol=1e-7)


def test_auto_range_is_bounded_and_only_for_lines():
    # flat: |θ₀|/|d|; steep: the floor; else √(2 rise/(|κ||d|²)); |d| = 2 here
    r = auto_ranges(
        torch.tensor([[0.0, 1e12, 2.0]]), torch.full((1, 3), 2.0), RISE, torch.tensor([3.0])
    )
    np.testing.assert_allclose(r[0], [1.5, AUTO_RANGE_MIN, np.sqrt(RISE / 4)])
    net, x, y, best = _quadratic()
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    for axes in (["random", "random"], ["segment"]):
        with pytest.raises(InputError, match="'auto' is for a line"):
            ls.slice_dataset(net, torch.stack([best, best]), data, "mse", axes, "auto", 5)


def test_config_takes_auto_for_lines_only():
    import yaml

    from statmech_nn import configcheck

    from conftest import ROOT

    schema = configcheck.load_schema(ROOT / "workflow/schemas/config.schema.yaml")
    config = yaml.safe_load((ROOT / "config/quick.yaml").read_text())
    entry = configcheck.check(config, schema)["slices"]["directions"]["hessian_min_line"]
    assert entry["ranges"] == "auto" and entry["auto_rise"] == 0.05
    config = yaml.safe_load((ROOT / "config/quick.yaml").read_text())
    config["slices"]["directions"]["hessian"]["ranges"] = "auto"
    with pytest.raises(
        configcheck.ConfigError,
        match=r"^config slices.directions.hessian.ranges: 'auto' is not allowed",
    ):
        configcheck.check(config, schema)


def test_figure_draws_auto_lines_in_units_of_each_replicas_range(tmp_path):
    from statmech_nn import plots

    net, x, y, best = _quadratic()
    off = best + 0.2 * torch.randn(
        best.shape, generator=torch.Generator().manual_seed(4), dtype=F64
    )
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ds = ls.slice_dataset(
        net, torch.stack([best, off]), data, "mse", ["random"], "auto", 11, "unit", seed=3,
        weight_decay=WD, auto_rise=RISE,
    )  # fmt: skip
    ds.attrs.update(dataset="toy", arch="perceptron", direction="auto_line")
    style = {"panel_width": 3.0, "panel_height": 2.4, "dpi": 60}
    fig = plots.slices_1d([ds], ["auto_line"], style)
    ax = fig.axes[0]
    r = ds.axis_range.values[:, 0]
    assert "in units of r" in ax.get_xlabel() and f"{r.min():.2g}–{r.max():.2g}" in ax.get_xlabel()
    assert ax.get_ylabel().startswith("training objective J − J(θ*)")
    curves = [
        ln for ln in ax.get_lines() if ln.get_linestyle() == "-" and len(ln.get_xdata()) == 11
    ]
    np.testing.assert_allclose([ln.get_xdata()[[0, -1]] for ln in curves], [[-1, 1]] * 2)
    ends = np.array([ln.get_ydata()[[0, -1]].mean() for ln in curves])  # J − J(θ*) at ±1
    np.testing.assert_allclose(ends, RISE, rtol=1e-7)
    assert any(ln.get_linestyle() == ":" and ln.get_ydata()[0] == RISE for ln in ax.get_lines())
    plots.save(fig, [tmp_path / "lines.png"], style)
