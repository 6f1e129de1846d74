"""Views a reader can turn: a 2-D loss slice as a 3-D surface (HTML) and a VTK grid (ParaView).

A plane slice holds L(θ* + a·d_a + b·d_b) per replica on a grid of coordinates
(a, b) (:func:`statmech_nn.landscape.slice_dataset`). The views draw what the
file holds and compute no science:

- :func:`write_surface_html`: one plotly surface per replica over the signed
  parameter distances a·|d_a| and b·|d_b| (parameters are dimensionless), the
  loss in its units on the vertical axis, L(θ*) marked, a menu to choose the
  replica; plotly.js is embedded, so the file opens offline.
- :func:`write_structured_grid`: a VTK XML structured grid (``.vts``, written by
  pyevtk) on the coordinates (a, b, 0), one point-data array per replica and
  loss; field data hold each replica's direction lengths, so that distance =
  coordinate × |d|, and in words the axes' meaning and the units. ParaView's
  "Warp By Scalar" raises it to a surface.
- :func:`write_sidecar`: a JSON file with the axes' meaning, the units, the
  replicas and the arrays' names of both views.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from statmech_nn.dims import REPLICA
from statmech_nn.errors import InputError
from statmech_nn.io import atomic_target

# What each slice axis kind (statmech_nn.landscape.AXIS_KINDS) points along, in words.
AXIS_MEANING = {
    "random": "random Gaussian direction",
    "hessian_max": "eigenvector of λmax",
    "hessian_min": "eigenvector of λmin",
    "pca1": "1st principal component of the training trajectory",
    "pca2": "2nd principal component of the training trajectory",
}

# The horizontal axes of the HTML view (parameters, hence distances, are dimensionless).
DISTANCE = "signed parameter distance {0}·|d_{0}| (dimensionless)"

PLOT_DIV_ID = "slice-view"  # fixed, so that a rerun writes the same bytes


@dataclass(frozen=True)
class PlaneView:
    """One plane slice, ready to draw: ``loss[r, i, j]`` = L(θ*_r + a_i d_a + b_j d_b).

    ``norms[r]`` holds |d_a| and |d_b| of replica r's directions, so its signed
    parameter distances along the axes are a·|d_a| and b·|d_b|.
    """

    title: str
    replicas: np.ndarray  # (R,) replica ids of the training file
    a: np.ndarray  # (na,) coordinates along d_a
    b: np.ndarray  # (nb,) coordinates along d_b
    norms: np.ndarray  # (R, 2) |d_a|, |d_b|
    loss: Mapping[str, np.ndarray]  # {"train_loss": (R, na, nb), "test_loss": ...}
    axis_titles: tuple[str, str]  # what each axis points along
    units: str  # of the loss
    loss_name: str  # the loss function, e.g. cross_entropy
    provenance: Mapping[str, str] = field(default_factory=dict)
    # the training objective J = L + (wd/2)|θ|² that train_loss holds when weight decay is on
    # (the slice file's ``objective`` attr), "" when train_loss is the data loss L itself
    objective: str = ""

    def distances(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        """Signed parameter distances a·|d_a|, b·|d_b| along the axes for replica index r."""
        return self.a * self.norms[r, 0], self.b * self.norms[r, 1]

    def origin_index(self) -> tuple[int, int]:
        """Grid indices of the point nearest to θ* (a = b = 0)."""
        return int(np.abs(self.a).argmin()), int(np.abs(self.b).argmin())

    def origin_on_grid(self) -> bool:
        """Whether a grid point is θ*, up to the rounding of coordinates stored in float32
        (a linspace's middle point can be 3e-8 instead of 0): within 1e-6 of each range."""
        i, j = self.origin_index()
        return bool(
            abs(self.a[i]) <= 1e-6 * np.abs(self.a).max()
            and abs(self.b[j]) <= 1e-6 * np.abs(self.b).max()
        )


def plane_view(ds: xr.Dataset) -> PlaneView:
    """The :class:`PlaneView` of a plane slice Dataset (rule slices_evaluate).

    Raises :class:`InputError` for a line slice or a file without the slice's variables.
    """
    loss = ds.get("train_loss")
    if loss is None or loss.dims != (REPLICA, "a", "b"):
        dims = None if loss is None else loss.dims
        raise InputError(
            f"slice {ds.attrs.get('direction', '?')}: expected train_loss(replica, a, b) "
            f"of a plane slice; found {dims}"
        )
    kinds = [str(k) for k in ds["axis_kind"].values]
    normalisation = ds.attrs.get("normalisation", "")
    titles = tuple(
        f"{name}: {AXIS_MEANING.get(kind, kind)}"
        + (f", {normalisation}-normalised" if kind == "random" and normalisation else "")
        for name, kind in zip(("a", "b"), kinds, strict=True)
    )
    where = " / ".join(str(ds.attrs[k]) for k in ("dataset", "arch") if ds.attrs.get(k))
    direction = ds.attrs.get("direction", "plane")
    return PlaneView(
        title=f"{where}: {direction} slice" if where else f"{direction} slice",
        replicas=np.asarray(ds[REPLICA].values),
        a=np.asarray(ds["a"].values, dtype=float),
        b=np.asarray(ds["b"].values, dtype=float),
        norms=np.asarray(ds["direction_norm"].transpose(REPLICA, "axis").values, dtype=float),
        loss={
            name: np.asarray(ds[name].transpose(REPLICA, "a", "b").values, dtype=float)
            for name in ("train_loss", "test_loss")
            if name in ds
        },
        axis_titles=titles,
        units=str(loss.attrs.get("units", "1")),
        loss_name=str(ds.attrs.get("loss", "loss")),
        objective=str(ds.attrs["objective"]) if float(ds.attrs.get("weight_decay", 0)) else "",
        provenance={
            k: str(ds.attrs[k])
            for k in ("rule", "wildcards_json", "git_commit", "source", "history")
            if k in ds.attrs
        },
    )


def _units(units: str) -> str:
    return "dimensionless" if units == "1" else units


def surface_figure(view: PlaneView, loss: str = "train_loss"):
    """A plotly figure: per replica a surface of ``loss`` and a marker at θ*, one menu entry
    per replica (the first shown), one shared colour scale."""
    import plotly.graph_objects as go

    values = view.loss[loss]
    i0, j0 = view.origin_index()
    at = "θ*" if view.origin_on_grid() else "grid point nearest θ*"
    units = _units(view.units)
    words, sym = _loss_words(view, loss)
    fig = go.Figure()
    for r, replica in enumerate(view.replicas):
        x, y = view.distances(r)
        z = values[r].T  # plotly: z[row = y index][column = x index]
        fig.add_trace(
            go.Surface(
                x=x.tolist(),
                y=y.tolist(),
                z=z.tolist(),
                coloraxis="coloraxis",
                name=f"replica {replica}",
                visible=r == 0,
                hovertemplate=(
                    f"replica {replica}<br>a·|d_a| = %{{x:.4g}}<br>b·|d_b| = %{{y:.4g}}"
                    f"<br>{sym} = %{{z:.6g}} {units}<extra></extra>"
                ),
            )
        )
        origin = float(values[r, i0, j0])
        fig.add_trace(
            go.Scatter3d(
                x=[float(x[i0])],
                y=[float(y[j0])],
                z=[origin],
                mode="markers+text",
                marker={"size": 5, "color": "black", "symbol": "diamond"},
                text=[f"{sym}({at}) = {origin:.4g} {units}"],
                textposition="top center",
                name=f"{sym}(θ*) replica {replica}",
                visible=r == 0,
                showlegend=False,
            )
        )
    count = len(view.replicas)
    buttons = [
        {
            "label": f"replica {replica}",
            "method": "update",
            "args": [
                {"visible": [k // 2 == r for k in range(2 * count)]},
                {"title.text": _title(view, loss, f"replica {replica}", r)},
            ],
        }
        for r, replica in enumerate(view.replicas)
    ]
    buttons.append(
        {
            "label": "all replicas",
            "method": "update",
            "args": [
                {"visible": [True] * (2 * count)},
                {"title.text": _title(view, loss, "all replicas", None)},
            ],
        }
    )
    fig.update_layout(
        title={"text": _title(view, loss, f"replica {view.replicas[0]}", 0)},
        scene={
            "xaxis": {"title": {"text": f"{view.axis_titles[0]}<br>{DISTANCE.format('a')}"}},
            "yaxis": {"title": {"text": f"{view.axis_titles[1]}<br>{DISTANCE.format('b')}"}},
            "zaxis": {"title": {"text": f"{words} {sym} ({units})"}},
            "aspectmode": "cube",
        },
        coloraxis={"colorscale": "Viridis", "colorbar": {"title": {"text": f"{sym} ({units})"}}},
        updatemenus=[{"buttons": buttons, "x": 0.0, "y": 1.0, "xanchor": "left"}],
        annotations=[
            {
                "text": "distances in parameter space (parameters are dimensionless); "
                f"black diamond: {sym}({at})",
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.0,
                "y": 0.0,
            }
        ],
        margin={"l": 0, "r": 0, "t": 60, "b": 30},
    )
    return fig


def _loss_words(view: PlaneView, loss: str) -> tuple[str, str]:
    """What ``loss`` of ``view`` is, in words, and its symbol: the training objective J where
    weight decay is on (the slices' train_loss is J), else the data loss L."""
    if loss == "train_loss" and view.objective:
        return "training objective", "J"
    return {"train_loss": "training loss", "test_loss": "test loss"}.get(loss, loss), "L"


def _title(view: PlaneView, loss: str, which: str, r: int | None) -> str:
    norms = (
        f" (|d_a| = {view.norms[r, 0]:.3g}, |d_b| = {view.norms[r, 1]:.3g})"
        if r is not None
        else ""
    )
    words, _ = _loss_words(view, loss)
    what = view.objective if words == "training objective" else view.loss_name
    return f"{view.title}, {words} ({what}), {which}{norms}"


def write_surface_html(view: PlaneView, path: str | Path) -> Path:
    """The training-loss surfaces of ``view`` as a self-contained HTML page at ``path``
    (plotly.js embedded: no network needed to open it)."""
    html = surface_figure(view).to_html(
        include_plotlyjs=True, full_html=True, div_id=PLOT_DIV_ID, config={"displaylogo": False}
    )
    with atomic_target(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return Path(path)


def vtk_point_arrays(view: PlaneView) -> dict[str, np.ndarray]:
    """Point-data arrays of the VTK grid: ``<loss>_replica<id>`` of shape (na, nb, 1)."""
    return {
        f"{name}_replica{replica}": np.ascontiguousarray(values[r][:, :, None])
        for name, values in view.loss.items()
        for r, replica in enumerate(view.replicas)
    }


def vtk_field_arrays(view: PlaneView) -> dict[str, np.ndarray | str]:
    """Field data of the VTK grid: each replica's (|d_a|, |d_b|), the replica ids, and in
    words the axes' meaning and the loss units (what the sidecar says, inside the file)."""
    fields: dict[str, np.ndarray | str] = {
        f"direction_norm_replica{replica}": np.asarray(view.norms[r], dtype=np.float64)
        for r, replica in enumerate(view.replicas)
    }
    fields["replica"] = view.replicas.astype(np.float64)
    for axis, name, title in zip(("x", "y"), ("a", "b"), view.axis_titles, strict=True):
        fields[f"{axis}_axis"] = (
            f"{title}; coordinate {name} in units of |d_{name}| (direction_norm_replica<id>), "
            "dimensionless"
        )
    fields["loss_units"] = view.units
    fields["train_loss_is"] = view.objective or f"the data loss ({view.loss_name})"
    fields["title"] = view.title
    return fields


def _ascii_field_data(xml, fields: Mapping[str, np.ndarray | str]) -> None:
    """A <FieldData> element at the data-set level, every array inline (ascii).

    pyevtk's own ``fieldData`` puts the element inside <Piece> and without
    NumberOfTuples, where VTK's reader (ParaView's) does not see it; strings are
    VTK String arrays: byte values, each string ended by 0.
    """
    xml.openElement("FieldData")
    for name, value in fields.items():
        if isinstance(value, str):
            codes = [*value.encode("utf-8"), 0]
            kind, tuples, text = "String", 1, " ".join(map(str, codes))
        else:
            kind, tuples, text = "Float64", value.size, " ".join(map(repr, value.tolist()))
        xml.openElement("DataArray")
        xml.addAttributes(
            type=kind, Name=name, NumberOfTuples=tuples, NumberOfComponents=1, format="ascii"
        )
        xml.addText(text)
        xml.closeElement("DataArray")
    xml.closeElement("FieldData")


def write_structured_grid(view: PlaneView, path: str | Path) -> Path:
    """The slice as a VTK XML structured grid (``.vts``) at ``path``, written with pyevtk.

    Points (a, b, 0) in the slice's coordinates; point data: every loss per
    replica (:func:`vtk_point_arrays`); field data: direction lengths, replica
    ids, axes' meaning and units (:func:`vtk_field_arrays`).
    """
    from pyevtk.vtk import VtkFile, VtkStructuredGrid

    path = Path(path)
    if path.suffix != ".vts":
        raise ValueError(f"{path}: a VTK structured grid file ends in .vts")
    x, y = np.meshgrid(view.a, view.b, indexing="ij")
    x, y = np.ascontiguousarray(x[:, :, None]), np.ascontiguousarray(y[:, :, None])
    points = (x, y, np.zeros_like(x))
    arrays = vtk_point_arrays(view)
    end = (view.a.size - 1, view.b.size - 1, 0)
    with atomic_target(path) as tmp:
        grid = VtkFile(str(tmp.with_suffix("")), VtkStructuredGrid)  # pyevtk adds ".vts"
        try:
            grid.openGrid(start=(0, 0, 0), end=end)
            _ascii_field_data(grid.xml, vtk_field_arrays(view))
            grid.openPiece(start=(0, 0, 0), end=end)
            grid.openElement("Points")
            grid.addData("points", points)
            grid.closeElement("Points")
            grid.openData("Point", scalars=next(iter(arrays)))
            for name, values in arrays.items():
                grid.addData(name, values)
            grid.closeData("Point")
            grid.closePiece()
            grid.closeGrid()
            grid.appendData(points)
            for values in arrays.values():
                grid.appendData(values)
            grid.save()
            os.replace(grid.getFileName(), tmp)
        finally:
            grid.xml.stream.close()
            Path(grid.getFileName()).unlink(missing_ok=True)
    return path


def sidecar(view: PlaneView, html: str | Path, vts: str | Path) -> dict:
    """What the views show, in words and numbers: axes, units, replicas, array names."""
    i0, j0 = view.origin_index()
    return {
        "title": view.title,
        "loss": view.loss_name,
        "train_loss_is": view.objective or f"the data loss ({view.loss_name})",
        "loss_units": view.units,
        "axes": {
            name: {
                "meaning": title,
                "coordinates": coords.tolist(),
                "html_axis": DISTANCE.format(name),
                "vtk_axis": ("x" if name == "a" else "y")
                + f": coordinate {name} in units of |d_{name}| (dimensionless)",
            }
            for name, title, coords in zip(
                ("a", "b"), view.axis_titles, (view.a, view.b), strict=True
            )
        },
        "replicas": [
            {
                "replica": int(replica),
                "direction_norm": {"a": float(view.norms[r, 0]), "b": float(view.norms[r, 1])},
                "loss_at_origin": {
                    name: float(values[r, i0, j0]) for name, values in view.loss.items()
                },
            }
            for r, replica in enumerate(view.replicas)
        ],
        "origin_on_grid": view.origin_on_grid(),
        "html": {"file": Path(html).name, "surface": "train_loss, one per replica"},
        "vtk": {
            "file": Path(vts).name,
            "point_data": {name: view.units for name in vtk_point_arrays(view)},
            "field_data": list(vtk_field_arrays(view)),
            "z": "0 (ParaView: Warp By Scalar on a loss array raises the surface)",
        },
        "provenance": dict(view.provenance),
    }


def write_sidecar(view: PlaneView, html: str | Path, vts: str | Path, path: str | Path) -> Path:
    """:func:`sidecar` as indented JSON at ``path``."""
    text = json.dumps(sidecar(view, html, vts), indent=2, ensure_ascii=False)
    with atomic_target(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)


def write_views(ds: xr.Dataset, html: str | Path, vts: str | Path, meta: str | Path) -> None:
    """Every view of the plane slice ``ds``: HTML surface, VTK grid and their JSON sidecar."""
    view = plane_view(ds)
    write_surface_html(view, html)
    write_structured_grid(view, vts)
    write_sidecar(view, html, vts, meta)
