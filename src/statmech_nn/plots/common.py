"""What every figure shares: the style from the config, panel layouts, legends and saving."""

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.artist import Artist


def apply_style(style: Mapping) -> None:
    """seaborn context, style and palette from the config's ``figures`` section."""
    sns.set_theme(context=style["context"], style=style["style"], palette=style["palette"])
    plt.rcParams["pdf.fonttype"] = 42  # editable text in the vector PDF


def save(fig: plt.Figure, paths: Sequence[str | Path], style: Mapping) -> None:
    """Write ``fig`` to every path (format from the suffix) and close it."""
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=style["dpi"], bbox_inches="tight", metadata=_metadata(path))
    plt.close(fig)


def _metadata(path: str | Path) -> dict:
    # No creation dates, so the same data give the same bytes.
    suffix = Path(path).suffix
    if suffix == ".pdf":
        return {"CreationDate": None, "ModDate": None}
    if suffix == ".svg":
        return {"Date": None}
    return {}


def panels(
    style: Mapping, rows: int, cols: int, scale: float = 1.2
) -> tuple[plt.Figure, list[plt.Axes]]:
    """A rows × cols grid of panels (row by row), ``scale`` × the configured panel size each."""
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(cols * style["panel_width"] * scale, rows * style["panel_height"] * scale),
        squeeze=False,
        layout="constrained",
    )
    return fig, list(axes.flat)


def panel_grid(count: int, style: Mapping, columns: int = 3) -> tuple[plt.Figure, list]:
    """``count`` panels in rows of at most ``columns``; spare axes hidden."""
    cols = max(1, min(count, columns))
    rows = -(-count // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(style["panel_width"] * cols, style["panel_height"] * rows),
        squeeze=False,
        constrained_layout=True,
    )
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def labelled_handles(axes: Iterable[plt.Axes]) -> dict[str, Artist]:
    """Every labelled artist of ``axes`` by label, first occurrence kept, in drawing order:
    one legend for panels that each show only some of the line styles."""
    handles: dict[str, Artist] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    return handles


def legend_with(grid: sns.FacetGrid, extra: Sequence[Artist], **kwargs) -> None:
    """Replace a seaborn grid's figure legend by one that also names the ``extra`` handles
    (each carries its label): bands, reference lines and markers seaborn does not list."""
    old = grid.legend
    data = {}
    if old is not None:
        data = {t.get_text(): h for t, h in zip(old.texts, old.legend_handles, strict=True)}
        old.remove()
    data |= {handle.get_label(): handle for handle in extra}
    grid.add_legend(legend_data=data, label_order=list(data), **kwargs)
