"""Figures for the summary report, returned as base64 PNG so the report is one self-contained file."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no display on workstations running headless or on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _to_base64_png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def overlap_histogram_png(overlaps: np.ndarray, k: int, title: str) -> str:
    """Histogram of per-seed overlaps, one bar per integer 0..k."""
    overlaps = overlaps[~np.isnan(overlaps)]
    figure, axes = plt.subplots(figsize=(6, 3.2))
    counts = np.bincount(overlaps.astype(int), minlength=k + 1)[: k + 1]
    axes.bar(np.arange(k + 1), counts, color="#4c72b0")
    axes.set_xlabel(f"overlap of the two top-{k} lists")
    axes.set_ylabel("seeds")
    axes.set_xticks(np.arange(k + 1))
    axes.set_title(f"{title}: overlap ({overlaps.size} seeds)")
    return _to_base64_png(figure)


def correlation_distributions_png(per_seed: pd.DataFrame, title: str) -> str:
    """Spearman and Kendall distributions, union of the top-k lists beside the whole pool."""
    figure, axes_row = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    bins = np.linspace(-1, 1, 41)
    for axes, statistic in zip(axes_row, ("spearman", "kendall")):
        for scope, colour in (("union", "#dd8452"), ("pool", "#4c72b0")):
            values = per_seed[f"{statistic}_{scope}"].to_numpy(float)
            values = values[~np.isnan(values)]
            axes.hist(values, bins=bins, alpha=0.6, color=colour,
                      label=f"{scope} (n={values.size}, mean={values.mean():.3f})" if values.size
                      else f"{scope} (no values)")
        axes.axvline(0, color="#888", linewidth=0.8)
        axes.set_xlabel(f"{statistic.capitalize()} correlation")
        axes.legend(fontsize=8)
    axes_row[0].set_ylabel("seeds")
    figure.suptitle(f"{title}: rank correlation of the two methods' scores")
    return _to_base64_png(figure)
