"""Figure functions render from small synthetic Datasets (no workflow run)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from statmech_nn import plots
from statmech_nn.plots.common import apply_style

STYLE = {
    "context": "paper",
    "style": "ticks",
    "palette": "colorblind",
    "dpi": 50,
    "panel_width": 2.0,
    "panel_height": 1.6,
    "formats": ["png"],
}


def _overlap_run(kind: str, n_train: int, depth: int, seed: int) -> xr.Dataset:
    """An overlap file's variables the figures read: q_pair, barrier, n_basins and attrs."""
    rng = np.random.default_rng(seed)
    pairs = 6
    q = np.stack([rng.normal(0.1, 0.02, pairs), rng.normal(0.4, 0.05, pairs)])
    barrier = np.stack([rng.uniform(0.5, 1.0, pairs), rng.uniform(0.0, 0.2, pairs)])
    thresholds = np.logspace(-3, 0, 7)
    merged = np.where(thresholds < barrier[1].max(), 4, 1)  # 4 replicas, one basin above
    return xr.Dataset(
        {
            "q_pair": (("alignment", "pair"), q, {"long_name": "overlap", "units": "1"}),
            "barrier": (("alignment", "pair"), barrier, {"long_name": "barrier", "units": "nats"}),
            "n_basins": ((), np.int64(rng.integers(1, 4)), {"long_name": "basins", "units": "1"}),
            "n_basins_by_threshold": (
                ("threshold",),
                merged,
                {"long_name": "basins", "units": "1"},
            ),
        },
        coords={
            "alignment": ["raw", "aligned"],
            "pair": np.arange(pairs),
            "threshold": ("threshold", thresholds, {"units": "nats"}),
        },
        attrs={
            "dataset": f"{kind}_n{n_train}",
            "data_kind": kind,
            "n_train": n_train,
            "arch": f"mlp-d{depth}-w8-tanh",
            "depth": depth,
            "width": 8,
            "barrier_threshold": 0.05,
        },
    )


@pytest.fixture
def overlap_runs():
    return [
        _overlap_run(kind, n, depth, seed)
        for seed, (kind, n, depth) in enumerate(
            (kind, n, depth)
            for kind, sizes in (("digits", (100, 300, 1347)), ("teacher_student", (50,)))
            for n in sizes
            for depth in (1, 2)
        )
    ]


def test_overlap_vs_train_size_renders_one_row_per_kind(overlap_runs, tmp_path):
    fig = plots.overlap_vs_train_size(overlap_runs, STYLE)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 6  # (q, barrier, basins) x two kinds
    assert [ax.get_title() for ax in visible[::3]] == ["digits", "teacher_student"]
    assert visible[0].get_xscale() == "log"
    assert visible[0].get_xlabel() == "training samples n (1)"
    assert visible[1].get_ylabel() == "mean barrier B (nats)"
    x = np.concatenate([line.get_xdata() for line in visible[0].get_lines()])
    assert {100, 300, 1347} <= set(np.asarray(x, dtype=float).round().astype(int))
    plots.save(fig, [tmp_path / "f.png"], STYLE)
    assert (tmp_path / "f.png").stat().st_size > 0


def test_overlap_vs_depth_renders_one_row_per_dataset(overlap_runs, tmp_path):
    fig = plots.overlap_vs_depth(overlap_runs[:2], STYLE)  # one data set, depths 1 and 2
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4
    assert visible[2].get_ylabel() == "basins at barrier < 0.05 nats"
    basins = visible[3]  # the count at every threshold, a line per architecture
    assert basins.get_xscale() == "log" and basins.get_xlabel() == "barrier threshold (nats)"
    steps = [line for line in basins.get_lines() if line.get_label().startswith("mlp-")]
    assert [line.get_label() for line in steps] == ["mlp-d1-w8-tanh", "mlp-d2-w8-tanh"]
    np.testing.assert_array_equal(steps[0].get_ydata(), overlap_runs[0]["n_basins_by_threshold"])
    plots.save(fig, [tmp_path / "f.png"], STYLE)
    assert (tmp_path / "f.png").stat().st_size > 0


def _train_run(arch: str, dataset: str, status: list[str]) -> xr.Dataset:
    """A training file's curves (replica, epoch), status and attrs, as the figure reads them."""
    rng = np.random.default_rng(len(arch) + len(dataset))
    dims, shape = ("replica", "epoch"), (len(status), 4)
    curves = {
        f"{split}_{metric}": (dims, rng.uniform(0, 1, shape))
        for split in ("train", "test")
        for metric in ("loss", "accuracy")
    }
    return xr.Dataset(
        {**curves, "status": ("replica", status)},
        coords={"replica": np.arange(len(status)), "epoch": np.arange(4)},
        attrs={"arch": arch, "dataset": dataset},
    )


def test_training_curves_one_column_per_architecture_in_config_order(tmp_path):
    runs = [
        _train_run("mlp-d2-w16-tanh", "digits", ["ok", "ok"]),
        _train_run("mlp-d1-w64", "digits_n300", ["ok", "diverged"]),
        _train_run("mlp-d1-w64", "digits", ["ok", "ok"]),
    ]
    fig = plots.training_curves(runs, STYLE)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert any("mlp-d2-w16-tanh" in t for t in titles[:1]), titles
    assert any("1 diverged" in t for t in titles), titles
    plots.save(fig, [tmp_path / "f.png"], STYLE)
    assert (tmp_path / "f.png").stat().st_size > 0


def _ising_lattice(L: int) -> xr.Dataset:
    """An Ising file's variables the figure reads; L = 4 also has the enumeration curves."""
    temps, fine = np.array([1.8, 2.3, 3.2]), np.linspace(1.8, 3.2, 7)
    data = {}
    for name in ("energy", "abs_magnetisation", "specific_heat", "susceptibility"):
        data[name] = ("temperature", np.ones(3))
        data[f"{name}_err"] = ("temperature", np.full(3, 0.1))
        if L == 4:
            data[f"exact_{name}_theory"] = ("temperature_theory", np.ones(7))
    for name in ("energy", "specific_heat"):
        data[f"kaufman_{name}_theory"] = ("temperature_theory", np.ones(7))
        data[f"onsager_{name}"] = ("temperature_theory", np.ones(7))
    data["onsager_abs_magnetisation"] = ("temperature_theory", np.ones(7))
    coords = {"temperature": temps, "temperature_theory": fine}
    return xr.Dataset(data, coords=coords, attrs={"L": L, "T_c": 2.269})


def test_ising_figure_draws_kaufman_for_every_L_and_names_every_line_style(tmp_path):
    fig = plots.ising_thermodynamics([_ising_lattice(8), _ising_lattice(4)], STYLE)
    energy, magnetisation = fig.axes[0], fig.axes[1]
    assert sum(line.get_linestyle() == "--" for line in energy.get_lines()) == 2  # L = 4, 8
    assert sum(line.get_linestyle() == "-." for line in magnetisation.get_lines()) == 1
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["L = 4", "L = 8"]
    assert any("Kaufman" in t for t in labels) and any("enumeration" in t for t in labels)
    assert any("Onsager" in t for t in labels) and "$T_c$" in labels
    plots.save(fig, [tmp_path / "f.png"], STYLE)


def _hopfield_capacity() -> xr.Dataset:
    """A capacity file: N = 100 has a measured α_c with its error, N = 200 none in range."""
    n, alpha, start = [100, 200], np.array([0.1, 0.15, 0.2]), ["stored", "corrupted"]
    dims = ("N", "alpha", "start")
    return xr.Dataset(
        {
            "load": (("N", "alpha"), np.tile(alpha, (2, 1))),
            "m_mean": (dims, np.ones((2, 3, 2))),
            "m_sem": (dims, np.zeros((2, 3, 2))),
            "retrieval_fraction": (dims, np.ones((2, 3, 2))),
            "alpha_c": (("N", "start"), [[0.16, 0.15], [np.nan, np.nan]]),
            "alpha_c_err": (("N", "start"), [[0.012, 0.01], [np.nan, np.nan]]),
            "alpha_c_theory": ((), 0.138),
            "m_theory": ("alpha_theory", [1.0, 0.0]),
        },
        coords={"N": n, "alpha": alpha, "start": start, "alpha_theory": [0.1, 0.2]},
        attrs={"retrieval_threshold": 0.9},
    )


def test_hopfield_capacity_figure_draws_the_bootstrap_error_of_alpha_c(tmp_path):
    ds = _hopfield_capacity()
    fig = plots.hopfield_capacity(ds, STYLE)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "N = 100: $\\alpha_c$ = 0.160 ± 0.012" in labels
    assert "N = 200: no $\\alpha_c$ in range" in labels
    styles = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert styles[:2] == ["stored start", "corrupted start"]
    plots.save(fig, [tmp_path / "f.png"], STYLE)


def _rbm_run(dataset: str, method: str, final: float, ising: bool) -> xr.Dataset:
    loglik = np.array([[-11.0, -5.0, final], [-11.0, -4.0, -3.0]])
    data = {
        "loglik": (("replica", "epoch"), loglik),
        "best_loglik": ((), -2.0),
        "uniform_loglik": ((), -11.09),
        "below_start": ("replica", loglik[:, -1] < loglik[:, 0]),
        "below_uniform": ("replica", loglik[:, -1] < -11.09),
    }
    if ising:
        data["ising_neg_entropy"] = ((), -2.2)
    if method != "exact":
        data["negative_samples"] = (("replica", "chain", "visible"), np.zeros((2, 1, 16)))
    attrs = {"dataset": dataset, "method": method, "k": 10}
    if ising:
        attrs["temperature"] = 1.8
    return xr.Dataset(data, coords={"epoch": np.arange(3)}, attrs=attrs)


def test_rbm_figure_marks_flagged_runs_and_separates_the_ising_references(tmp_path):
    runs = [
        _rbm_run("bars_and_stripes", "cd", -3.0, ising=False),
        _rbm_run("ising_cold", "cd", -12.0, ising=True),
        _rbm_run("ising_cold", "exact", -2.5, ising=True),
    ]
    fig = plots.rbm_loglik(runs, STYLE)
    assert "1 run(s) flagged" in fig.axes[1].get_title()
    assert "flagged" not in fig.axes[0].get_title()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["cd-10", "optimum $-H$(data)"]
    assert "exact" in labels and "memorisation bound $-H$(sample)" in labels
    assert "Ising model $-H(p)$ (best expected)" in labels
    flag = "flagged run: ends below its start or the uniform model, or > 0.2 nat below its peak"
    assert flag in labels
    plots.save(fig, [tmp_path / "f.png"], STYLE)


# ---------------------------------------------------------------- every style in a legend
# issue 16 item 2: each line style, marker and band a figure draws is named in one of its
# legends. Small synthetic Datasets with the variables each figure reads.


def _perceptron_curves() -> xr.Dataset:
    alpha, fine, algorithms = [0.5, 1.0, 2.0], np.linspace(0.5, 2.0, 5), ["gibbs", "hebb", "sgd"]
    data = {"N": ((), 50)}
    for name in ("generalization_error", "teacher_overlap", "student_overlap"):
        data[name] = (("algorithm", "alpha"), np.full((3, 3), 0.3))
        data[f"{name}_stderr"] = (("algorithm", "alpha"), np.full((3, 3), 0.02))
    for name in ("generalization_error", "teacher_overlap"):
        theory = np.full((3, 5), 0.25)
        theory[2] = np.nan  # no theory for sgd
        data[f"{name}_theory"] = (("algorithm", "alpha_theory"), theory)
    coords = {"algorithm": algorithms, "alpha": alpha, "alpha_theory": fine}
    return xr.Dataset(data, coords=coords)


def _perceptron_capacity() -> xr.Dataset:
    n, alpha, p = [10, 20], [1.0, 2.0, 3.0], np.arange(1, 61)
    return xr.Dataset(
        {
            "alpha_effective": (("N", "alpha"), [[1.0, 2.0, 3.0]] * 2),
            "separable_fraction": (("N", "alpha"), [[1.0, 0.5, 0.1]] * 2),
            "separable_fraction_stderr": (("N", "alpha"), np.full((2, 3), 0.05)),
            "cover_curve": (("N", "P"), np.clip(1.5 - p / 40, 0, 1)[None].repeat(2, 0)),
            "alpha_c": ((), 2.0),
        },
        coords={"N": n, "alpha": alpha, "P": p},
    )


def _hopfield_energy() -> xr.Dataset:
    dims, shape = ("temperature", "start", "trial", "t"), (2, 2, 3, 4)
    values = np.random.default_rng(0).normal(-0.5, 0.05, shape)
    return xr.Dataset(
        {"energy": (dims, values), "m": (dims, values + 1), "pattern_energy": ((), -0.5)},
        coords={"temperature": [0.0, 0.3], "start": ["corrupted", "random"], "t": np.arange(4)},
        attrs={"N": 100, "P": 5},
    )


def _slice(direction: str, kinds: list[str], trajectory: bool = False) -> xr.Dataset:
    axes = ["a", "b"][: len(kinds)]
    grid = np.linspace(-1, 1, 5)
    coords = {"replica": [0, 1], "axis": axes, "a": grid}
    if len(kinds) == 2:
        coords["b"] = grid
        loss = 0.1 + grid[:, None] ** 2 - 0.5 * grid[None, :] ** 2
        dims = ("replica", "a", "b")
        loss = np.stack([loss, loss])
    else:
        dims, loss = ("replica", "a"), np.stack([0.1 + grid**2] * 2)
    data = {
        "train_loss": (dims, loss, {"units": "nats"}),
        "test_loss": (dims, loss + 0.05, {"units": "nats"}),
        "centre_curvature": (("replica", "axis"), np.ones((2, len(axes)))),
        "axis_kind": ("axis", kinds),
        "direction_norm": (("replica", "axis"), np.ones((2, len(axes)))),
    }
    if trajectory:
        data["trajectory"] = (("replica", "axis", "step"), np.zeros((2, 2, 3)))
    attrs = {"dataset": "digits", "arch": "mlp-d1-w8", "direction": direction}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _curvature() -> xr.Dataset:
    kappa = np.random.default_rng(1).normal(0.1, 0.05, (2, 40))
    return xr.Dataset(
        {
            "curvature": (("replica", "sample"), kappa, {"units": "nats"}),
            "lambda_min": ("replica", [-0.05, -0.04]),
            "lambda_max": ("replica", [5.0, 5.0]),
            "trace_per_param": ("replica", [0.1, 0.1]),
            "fraction_negative": ("replica", [0.1, 0.0]),
            "fraction_planes_negative": ("replica", [0.2, 0.1]),
        },
        attrs={"dataset": "digits", "arch": "mlp-d1-w8"},
    )


def _hessian_run(depth: int, dense: bool) -> xr.Dataset:
    lam = np.linspace(-1, 5, 30)
    data = {
        "status": ("replica", ["ok", "ok"]),
        "density": (("replica", "lambda"), np.exp(-(lam**2))[None].repeat(2, 0), {"units": "1"}),
        "lambda_extreme": (("replica", "which"), [[5.0, -0.1], [4.0, -0.2]], {"units": "nats"}),
        "mean_curvature": ("replica", [0.1, 0.2]),
        "ggn_lambda_extreme": (("replica", "which"), [[5.0, 0.0], [4.0, 0.0]]),
        "ggn_trace_hutchinson": ("replica", [10.0, 12.0]),
    }
    if dense:
        data["dense_eigenvalues"] = (
            ("replica", "eigen"),
            np.linspace(-1, 5, 20)[None].repeat(2, 0),
        )
    attrs = {"dataset": "digits", "arch": f"mlp-d{depth}-w8", "n_params": 100}
    attrs |= {"depth": depth, "width": 8}
    coords = {
        "replica": [0, 1],
        "lambda": ("lambda", lam, {"units": "nats"}),
        "which": ["max", "min"],
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


FIGURE_DATA = {
    "training_curves": lambda: [_train_run("mlp-d1-w8", "digits", ["ok", "ok"])],
    "perceptron_generalization": _perceptron_curves,
    "perceptron_capacity": _perceptron_capacity,
    "hopfield_capacity": _hopfield_capacity,
    "hopfield_energy": _hopfield_energy,
    "ising_thermodynamics": lambda: [_ising_lattice(4), _ising_lattice(8)],
    "rbm_loglik": lambda: [
        _rbm_run("bars_and_stripes", "cd", -12.0, ising=False),
        _rbm_run("ising_cold", "exact", -2.5, ising=True),
    ],
    "slices_random_vs_hessian": lambda: [
        _slice("random", ["random", "random"]),
        _slice("pca", ["pca1", "pca2"], trajectory=True),
    ],
    "slices_1d": lambda: [_slice("random_line", ["random"]), _slice("segment", ["segment"])],
    "projected_curvature": lambda: [_curvature(), _curvature()],
    "hessian_spectrum": lambda: [_hessian_run(1, dense=False), _hessian_run(2, dense=True)],
    "curvature_vs_depth": lambda: [_hessian_run(1, dense=False), _hessian_run(2, dense=True)],
    "overlap_distributions": lambda: [
        _overlap_run("digits", 100, 1, 0).assign_coords(replica=np.arange(4))
    ],
    "overlap_vs_depth": lambda: [_overlap_run("digits", 100, d, d) for d in (1, 2)],
    "overlap_vs_train_size": lambda: [_overlap_run("digits", n, 1, n) for n in (100, 300)],
}
FIGURE_ARGS = {
    "slices_random_vs_hessian": {"names": ["random", "pca"]},
    "slices_1d": {"names": ["random_line", "segment"]},
}
NO_STYLE = {"None", "", " ", None}
CAPS = {"_", "|"}  # error-bar caps, named by the marker they end


def _line_styles(lines) -> tuple[set, set]:
    """(line styles, markers) of visible lines; a zero-width line shows only its markers."""
    styles = {ln.get_linestyle() for ln in lines if ln.get_linewidth() > 0} - NO_STYLE
    markers = {ln.get_marker() for ln in lines} - NO_STYLE
    return styles, markers


def _legend_artists(fig) -> list:
    """Every artist drawn inside the figure's legends (an error bar's marker included), less
    the legends' frames."""
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    return [
        artist
        for legend in legends
        for artist in legend.findobj()
        if artist is not legend and artist is not legend.legendPatch
    ]


@pytest.mark.parametrize("name", FIGURE_DATA)
def test_every_line_style_marker_and_band_is_in_a_legend(name, tmp_path):
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig = getattr(plots, name)(FIGURE_DATA[name](), style=STYLE, **FIGURE_ARGS.get(name, {}))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    drawn = [ln for ax in axes for ln in ax.get_lines() if ln.get_visible() and len(ln.get_xdata())]
    handles = _legend_artists(fig)
    assert handles, f"{name}: no legend"
    styles, markers = _line_styles(drawn)
    named_styles, named_markers = _line_styles([h for h in handles if isinstance(h, Line2D)])
    assert styles <= named_styles, f"{name}: line styles {styles - named_styles} not in a legend"
    assert markers - CAPS <= named_markers, f"{name}: markers {markers - named_markers} unnamed"
    if any(isinstance(c, PolyCollection) for ax in axes for c in ax.collections):
        assert any(isinstance(h, Patch | PolyCollection) for h in handles), f"{name}: band unnamed"
    plots.save(fig, [tmp_path / f"{name}.png"], STYLE)


def test_an_off_scale_lambda_max_is_named_in_the_text_block_not_over_the_bars():
    """λmax far right of the projected-curvature bulk (5 vs κ ~ 0.1): no line, no arrow text
    over the histogram; its value is the last line of the top-left text block."""
    fig = plots.projected_curvature([_curvature()], STYLE)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 1 and texts[0].splitlines()[-1] == "λmax = 5 (off scale, right)"
    assert ax.get_xlim()[1] < 5.0


def _text_boxes(fig):
    """Window extents of every axis's title, x label and y label, by axis."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for i, ax in enumerate(fig.axes):
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
            if text.get_text():
                boxes.append((i, text.get_text(), text.get_window_extent(renderer)))
    return boxes


def test_slice_grid_names_each_pair_in_its_titles_and_no_label_runs_into_another_row():
    """Long CNN names sat in the left y label and ran into the row above: the pair now
    heads each panel's title, and no title or axis label overlaps another panel's."""
    long = ["cnn-c128-c256-c384-k3-pool", "cnn-c32-c64-c64-k3-pool-bn", "cnn-c16-k3"]
    runs = []
    for arch in long:
        for direction, kinds in (("random", ["random", "random"]), ("pca", ["pca1", "pca2"])):
            ds = _slice(direction, kinds, trajectory=direction == "pca")
            ds.attrs |= {"dataset": "digits_images", "arch": arch}
            runs.append(ds)
    style = STYLE | {"panel_width": 3.0, "panel_height": 2.4}  # the study's default sizes
    with plt.rc_context():  # the study's theme, undone afterwards
        apply_style(style)
        fig = plots.slices_random_vs_hessian(runs, ["random", "pca"], style)
        boxes = _text_boxes(fig)
    heat_maps = [ax for ax in fig.axes if ax.get_title()]
    assert len(heat_maps) == 6
    for ax, arch in zip(heat_maps, [a for a in long for _ in range(2)], strict=True):
        assert ax.get_title().splitlines()[0] == f"digits_images / {arch}"
        assert arch not in ax.get_ylabel()
    for i, text, box in boxes:
        for j, other, other_box in boxes:
            if i != j:
                assert not box.overlaps(other_box), f"{text!r} overlaps {other!r}"


def test_curvature_vs_depth_names_its_colours_and_the_hessian_samples():
    """The colour is the widest hidden layer (a CNN's channels too, not "width"), and a
    Hessian on a subsample says so: its λmin < 0 need not be the training set's."""
    runs = [_hessian_run(1, dense=False), _hessian_run(2, dense=True)]
    for ds in runs:
        ds.attrs["n_samples"] = 256
    fig = plots.curvature_vs_depth(runs, STYLE)
    texts = {t.get_text() for legend in fig.legends for t in legend.get_texts()}
    assert "widest hidden layer\n(units or channels)" in texts and "width" not in texts
    assert fig.get_suptitle() == "Hessian on n = 256 training samples"
    spectrum = plots.hessian_spectrum(runs, STYLE)
    assert spectrum.axes[0].get_title().endswith("(P = 100, n = 256 samples)")
