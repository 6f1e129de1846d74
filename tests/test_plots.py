"""Figure functions render from small synthetic Datasets (no workflow run)."""

import numpy as np
import pytest
import xarray as xr

from statmech_nn import plots

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
    return xr.Dataset(
        {
            "q_pair": (("alignment", "pair"), q, {"long_name": "overlap", "units": "1"}),
            "barrier": (("alignment", "pair"), barrier, {"long_name": "barrier", "units": "nats"}),
            "n_basins": ((), np.int64(rng.integers(1, 4)), {"long_name": "basins", "units": "1"}),
        },
        coords={"alignment": ["raw", "aligned"], "pair": np.arange(pairs)},
        attrs={
            "dataset": f"{kind}_n{n_train}",
            "data_kind": kind,
            "n_train": n_train,
            "arch": f"mlp-d{depth}-w8-tanh",
            "depth": depth,
            "width": 8,
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
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 3
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
