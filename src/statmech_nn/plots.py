"""Figures of the study: seaborn plots that read Datasets and never recompute science.

Every figure function takes Datasets (and the config's ``figures`` section for
sizes) and returns a matplotlib Figure; :func:`apply_style` and :func:`save`
give all figures the same look and formats.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402


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


def training_curves(runs: Sequence[xr.Dataset], style: Mapping) -> plt.Figure:
    """Loss (top) and accuracy (bottom) per epoch, one column per architecture.

    Lines are the mean over healthy replicas, bands ± one standard deviation;
    train and test in colour, data sets by line style.
    """
    frames = []
    for ds in runs:
        ok = ds["status"] == "ok"
        for split in ("train", "test"):
            for metric in ("loss", "accuracy"):
                da = ds[f"{split}_{metric}"].where(ok, drop=True)
                df = da.to_dataframe(name="value").reset_index()[["replica", "epoch", "value"]]
                df = df.assign(
                    split=split, metric=metric, arch=ds.attrs["arch"], dataset=ds.attrs["dataset"]
                )
                frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    archs = list(dict.fromkeys(df["arch"]))
    grid = sns.relplot(
        data=df,
        x="epoch",
        y="value",
        hue="split",
        style="dataset",
        row="metric",
        col="arch",
        col_order=archs,
        kind="line",
        errorbar="sd",
        facet_kws={"sharey": "row", "margin_titles": True},
        height=style["panel_height"],
        aspect=style["panel_width"] / style["panel_height"],
    )
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    grid.set_axis_labels("epoch", "")
    for (metric, _), ax in grid.axes_dict.items():
        ax.set_ylabel("loss (nats)" if metric == "loss" else "accuracy")
    return grid.figure
