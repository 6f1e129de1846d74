"""Views of plane slices: self-contained HTML surfaces and VTK grids that read back exactly.

Here the HTML is checked structurally, with or without a browser: balanced tags, no external
script, and the figure's JSON (parsed from the page) holds the slice's values and axis titles.
tests/test_views_browser.py opens the page in headless Chromium where one is installed.
"""

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from statmech_nn import io, views
from statmech_nn.errors import InputError

ARCH = "mlp-d2-w16-tanh"


def plane_slice(replicas=(0, 3), a=None, b=None, kinds=("random", "random")) -> xr.Dataset:
    """A slice Dataset like rule slices_evaluate's: a saddle L = 2 + r + a² − b²/4, per replica
    r, with different direction lengths per replica (a: 5 points on [-1, 1], b: 7 on [-2, 2]
    unless given)."""
    a = np.linspace(-1, 1, 5) if a is None else a
    b = np.linspace(-2, 2, 7) if b is None else b
    r = np.asarray(replicas, dtype=float)[:, None, None]
    loss = 2.0 + r + a[None, :, None] ** 2 - 0.25 * b[None, None, :] ** 2
    norms = np.stack([1.5 + np.arange(len(replicas)), np.full(len(replicas), 0.5)], 1)
    dims = ("replica", "a", "b")
    return xr.Dataset(
        {
            "train_loss": io.labelled(loss, dims, "mean train loss (cross_entropy)", "nats"),
            "test_loss": io.labelled(loss + 0.125, dims, "mean test loss (cross_entropy)", "nats"),
            "direction_norm": io.labelled(norms, ("replica", "axis"), "norm of the direction"),
        },
        coords={
            "replica": list(replicas),
            "a": a,
            "b": b,
            "axis": ["a", "b"],
            "axis_kind": ("axis", list(kinds)),
        },
        attrs={
            "dataset": "digits",
            "arch": ARCH,
            "direction": "random",
            "normalisation": "filter",
            "loss": "cross_entropy",
        },
    )


@pytest.fixture
def written(tmp_path):
    ds = plane_slice()
    paths = {ext: tmp_path / f"random.{ext}" for ext in ("html", "vts", "json")}
    views.write_views(ds, paths["html"], paths["vts"], paths["json"])
    return ds, paths


class _TagBalance(HTMLParser):
    """Open/close balance of the non-void tags of a page, and every script's src."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "area", "base", "col", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.script_src: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script" and dict(attrs).get("src"):
            self.script_src.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:  # <meta ... /> reports an end tag too
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def plotly_figure(html: str) -> tuple[list, dict]:
    """The traces and layout passed to Plotly.newPlot in a page written by plotly."""
    start = html.index(f'Plotly.newPlot(                        "{views.PLOT_DIV_ID}",')
    rest = html[html.index("[", start) :]
    decoder = json.JSONDecoder()
    traces, end = decoder.raw_decode(rest)
    layout, _ = decoder.raw_decode(rest[end:].lstrip(" ,\n"))
    return traces, layout


def test_html_is_balanced_and_self_contained(written):
    _, paths = written
    html = paths["html"].read_text(encoding="utf-8")
    parser = _TagBalance()
    parser.feed(html)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    assert parser.script_src == []  # plotly.js is embedded, not loaded
    assert "<script" in html and "Plotly.newPlot" in html
    assert re.search(r"plotly\.js v\d+\.\d+", html)  # the library's own banner, embedded
    assert len(html) > 1_000_000  # the embedded plotly.js (~4.6 MB), not a stub


def test_html_surfaces_hold_the_slice_values_over_parameter_distances(written):
    ds, paths = written
    traces, layout = plotly_figure(paths["html"].read_text(encoding="utf-8"))
    surfaces = [t for t in traces if t["type"] == "surface"]
    markers = [t for t in traces if t["type"] == "scatter3d"]
    assert len(surfaces) == len(markers) == ds.sizes["replica"]
    for r, (surface, marker) in enumerate(zip(surfaces, markers, strict=True)):
        replica = int(ds.replica[r])
        norm_a, norm_b = ds["direction_norm"].isel(replica=r).values
        np.testing.assert_array_equal(surface["x"], ds.a.values * norm_a)
        np.testing.assert_array_equal(surface["y"], ds.b.values * norm_b)
        # plotly's z is indexed [y][x]
        expected = ds["train_loss"].isel(replica=r).transpose("b", "a").values
        np.testing.assert_array_equal(np.array(surface["z"]), expected)
        assert surface["name"] == f"replica {replica}"
        # L(θ*) marked at the origin, which lies on this grid
        origin = float(ds["train_loss"].isel(replica=r).sel(a=0, b=0))
        assert marker["x"] == [0.0] and marker["y"] == [0.0] and marker["z"] == [origin]
        assert marker["text"] == [f"L(θ*) = {origin:.4g} nats"]
        assert surface["visible"] is (r == 0) and marker["visible"] is (r == 0)
    scene = layout["scene"]
    assert scene["xaxis"]["title"]["text"] == (
        "a: random Gaussian direction, filter-normalised<br>"
        "signed parameter distance a·|d_a| (dimensionless)"
    )
    assert scene["yaxis"]["title"]["text"].startswith("b: random Gaussian direction")
    assert scene["zaxis"]["title"]["text"] == "training loss L (nats)"


def test_html_menu_shows_one_replica_or_all(written):
    ds, paths = written
    _, layout = plotly_figure(paths["html"].read_text(encoding="utf-8"))
    buttons = layout["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == ["replica 0", "replica 3", "all replicas"]
    assert buttons[0]["args"][0]["visible"] == [True, True, False, False]
    assert buttons[1]["args"][0]["visible"] == [False, False, True, True]
    assert buttons[2]["args"][0]["visible"] == [True] * 4
    assert "replica 3 (|d_a| = 2.5, |d_b| = 0.5)" in buttons[1]["args"][1]["title.text"]


def test_html_is_the_same_bytes_when_written_again(written, tmp_path):
    ds, paths = written
    again = views.write_surface_html(views.plane_view(ds), tmp_path / "again.html")
    assert again.read_bytes() == paths["html"].read_bytes()


def read_vts(path: Path) -> tuple[tuple[int, ...], dict[str, np.ndarray | str]]:
    """A minimal reader of a VTK XML structured grid as written here: the grid's point
    dimensions and every named array (flat), raw appended Float64 data or inline ascii
    (Float64 numbers; String arrays as byte values ended by 0)."""
    raw = path.read_bytes()
    head, tail = raw.split(b'<AppendedData encoding="raw">')
    data = tail[tail.index(b"_") + 1 :]
    root = ET.fromstring(head + b"</VTKFile>")  # the XML header, closed
    assert root.get("type") == "StructuredGrid" and root.get("header_type") == "UInt64"
    grid = root.find("StructuredGrid")
    extent = [int(v) for v in grid.get("WholeExtent").split()]
    shape = tuple(hi - lo + 1 for lo, hi in zip(extent[::2], extent[1::2], strict=True))
    # VTK reads field data of the data set from here, not from inside <Piece>
    assert grid.find("Piece/FieldData") is None
    arrays: dict[str, np.ndarray | str] = {}
    for node in grid.iter("DataArray"):
        name, kind = node.get("Name"), node.get("type")
        if node.get("format") == "ascii":
            codes = node.text.split()
            if kind == "String":
                assert codes[-1] == "0"
                arrays[name] = bytes(int(c) for c in codes[:-1]).decode("utf-8")
            else:
                assert kind == "Float64"
                arrays[name] = np.array(codes, dtype=np.float64)
            assert int(node.get("NumberOfTuples")) == (1 if kind == "String" else arrays[name].size)
            continue
        assert kind == "Float64" and node.get("format") == "appended"
        offset = int(node.get("offset"))
        size = int(np.frombuffer(data, np.uint64, 1, offset)[0])
        arrays[name] = np.frombuffer(data, np.float64, size // 8, offset + 8)
    return shape, arrays


def test_vtk_grid_reads_back_with_the_slice_values_and_coordinates(written):
    ds, paths = written
    shape, arrays = read_vts(paths["vts"])
    na, nb = ds.sizes["a"], ds.sizes["b"]
    assert shape == (na, nb, 1)
    # VTK orders points with the first index fastest
    points = arrays.pop("points").reshape(-1, 3)
    grid_a, grid_b = np.meshgrid(ds.a.values, ds.b.values, indexing="ij")
    np.testing.assert_array_equal(points[:, 0], grid_a.ravel(order="F"))
    np.testing.assert_array_equal(points[:, 1], grid_b.ravel(order="F"))
    np.testing.assert_array_equal(points[:, 2], 0.0)
    for loss in ("train_loss", "test_loss"):
        for r, replica in enumerate(ds.replica.values):
            values = arrays.pop(f"{loss}_replica{replica}").reshape((na, nb), order="F")
            np.testing.assert_array_equal(values, ds[loss].isel(replica=r).values)
    for r, replica in enumerate(ds.replica.values):
        np.testing.assert_array_equal(
            arrays.pop(f"direction_norm_replica{replica}"),
            ds["direction_norm"].isel(replica=r).values,
        )
    np.testing.assert_array_equal(arrays.pop("replica"), ds.replica.values)
    assert arrays.pop("x_axis") == (
        "a: random Gaussian direction, filter-normalised; coordinate a in units of |d_a| "
        "(direction_norm_replica<id>), dimensionless"
    )
    assert arrays.pop("y_axis").startswith("b: random Gaussian direction")
    assert arrays.pop("loss_units") == "nats"
    assert arrays.pop("train_loss_is") == "the data loss (cross_entropy)"
    assert arrays.pop("title") == f"digits / {ARCH}: random slice"
    assert arrays == {}


def test_vtk_strings_carry_non_ascii_axis_names(tmp_path):
    ds = plane_slice(kinds=("hessian_max", "hessian_min"))
    path = views.write_structured_grid(views.plane_view(ds), tmp_path / "hessian.vts")
    _, arrays = read_vts(path)
    assert arrays["x_axis"].startswith("a: eigenvector of λmax; coordinate a")


def test_a_failed_vtk_write_leaves_no_file(tmp_path, monkeypatch):
    from pyevtk.vtk import VtkFile

    def fail(self, data):
        raise OSError("disk gone")

    monkeypatch.setattr(VtkFile, "appendData", fail)
    with pytest.raises(OSError, match="disk gone"):
        views.write_structured_grid(views.plane_view(plane_slice()), tmp_path / "random.vts")
    assert list(tmp_path.iterdir()) == []


def test_sidecar_names_axes_units_and_replicas(written):
    ds, paths = written
    meta = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert meta["loss_units"] == "nats"
    assert meta["axes"]["a"]["meaning"] == "a: random Gaussian direction, filter-normalised"
    assert meta["axes"]["b"]["coordinates"] == ds.b.values.tolist()
    assert meta["axes"]["a"]["vtk_axis"].startswith("x: coordinate a in units of |d_a|")
    assert [entry["replica"] for entry in meta["replicas"]] == [0, 3]
    assert meta["replicas"][1]["direction_norm"] == {"a": 2.5, "b": 0.5}
    assert meta["replicas"][1]["loss_at_origin"] == {"train_loss": 5.0, "test_loss": 5.125}
    assert meta["vtk"]["point_data"]["train_loss_replica3"] == "nats"
    assert meta["origin_on_grid"] is True


def test_hessian_plane_axes_and_an_origin_off_the_grid_are_said_so(tmp_path):
    ds = plane_slice(a=np.linspace(-1, 1, 4), kinds=("hessian_max", "hessian_min"))
    view = views.plane_view(ds)
    assert view.axis_titles == ("a: eigenvector of λmax", "b: eigenvector of λmin")
    assert not view.origin_on_grid()
    traces, _ = plotly_figure(views.surface_figure(view).to_html(div_id=views.PLOT_DIV_ID))
    i = int(np.abs(ds.a.values).argmin())
    value = float(ds["train_loss"].isel(replica=0, a=i).sel(b=0))
    assert traces[1]["text"] == [f"L(grid point nearest θ*) = {value:.4g} nats"]


def test_an_origin_off_by_float32_rounding_is_on_the_grid():
    """torch.linspace(-0.8, 0.8, 11) in float32 has 2.98e-08 in the middle (the quick
    study's Hessian plane)."""
    b = np.linspace(-0.8, 0.8, 11)
    b[5] = 2.9802322387695312e-08
    assert views.plane_view(plane_slice(b=b)).origin_on_grid()
    assert not views.plane_view(plane_slice(b=np.linspace(-0.8, 0.8, 10))).origin_on_grid()


def test_a_line_slice_is_refused_in_one_line():
    line = plane_slice().isel(b=0, drop=True)
    with pytest.raises(InputError, match=r"slice random: expected train_loss\(replica, a, b\)"):
        views.plane_view(line)


def test_a_vtk_path_without_vts_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"ends in \.vts"):
        views.write_structured_grid(views.plane_view(plane_slice()), tmp_path / "x.vtk")


@pytest.mark.slow
def test_views_rule_runs_on_a_slice_file(tmp_path):
    """rule views_plane on a stand-in slice file (the provenance rule slices_evaluate
    writes), without the stages before it; a second run has nothing to do."""
    from conftest import copy_workflow, snakemake

    repo = copy_workflow(tmp_path / "repo")
    ds = plane_slice()
    ds.attrs.update(
        rule="slices_evaluate",
        wildcards_json=json.dumps({"arch": ARCH, "dataset": "digits", "direction": "random"}),
    )
    io.write_dataset(ds, repo / f"results/slices/digits/{ARCH}/random.nc")
    targets = [f"results/views/digits/{ARCH}/random.{ext}" for ext in ("html", "vts", "json")]
    quick = ("--configfile", "config/quick.yaml", "--cores", "1")
    snakemake(repo, *quick, *targets)
    traces, _ = plotly_figure((repo / targets[0]).read_text(encoding="utf-8"))
    np.testing.assert_array_equal(
        np.array(traces[0]["z"]), ds["train_loss"].isel(replica=0).transpose("b", "a").values
    )
    _, arrays = read_vts(repo / targets[1])
    np.testing.assert_array_equal(
        arrays["train_loss_replica3"], ds["train_loss"].isel(replica=1).values.ravel(order="F")
    )
    assert (repo / f"results/logs/views/digits/{ARCH}/random.log").is_file()
    proc = snakemake(repo, "-n", *quick, *targets)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_with_weight_decay_the_training_surface_is_named_the_objective_j(tmp_path):
    """A slice whose train_loss is J = L + (wd/2)|θ|² (weight decay on): the HTML's z axis,
    colour bar, hover text and title, the sidecar and the VTK field data say J and the
    objective; the test loss stays the data loss L."""
    ds = plane_slice()
    objective = "cross_entropy + 0.5*0.001*|theta|^2"
    ds.attrs.update(objective=objective, weight_decay=0.001)
    paths = {ext: tmp_path / f"random.{ext}" for ext in ("html", "vts", "json")}
    views.write_views(ds, paths["html"], paths["vts"], paths["json"])
    traces, layout = plotly_figure(paths["html"].read_text(encoding="utf-8"))
    assert layout["scene"]["zaxis"]["title"]["text"] == "training objective J (nats)"
    assert layout["coloraxis"]["colorbar"]["title"]["text"] == "J (nats)"
    assert f"training objective ({objective})" in layout["title"]["text"]
    assert "<br>J = " in traces[0]["hovertemplate"] and traces[1]["text"][0].startswith("J(θ*)")
    assert json.loads(paths["json"].read_text())["train_loss_is"] == objective
    assert read_vts(paths["vts"])[1]["train_loss_is"] == objective
    view = views.plane_view(ds)
    test = views.surface_figure(view, "test_loss")
    assert test.layout.scene.zaxis.title.text == "test loss L (nats)"
    bare = views.plane_view(plane_slice())
    assert views.surface_figure(bare).layout.scene.zaxis.title.text == "training loss L (nats)"
