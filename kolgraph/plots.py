"""Planner plots of a :class:`~kolgraph.reach.ReachReport` (matplotlib, Agg backend).

- :func:`reach_curve`: cumulative unique reach as creators are added, beside gross
  reach, expected reach and the independence (Sainsbury) estimate;
- :func:`overlap_heatmap`: annotated pairwise overlap matrix under one labelled
  normalisation;
- :func:`upset`: an UpSet plot of the largest Venn regions;
- :func:`reach_plots`: all three, named after one file stem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kolgraph.measures import MEASURES


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _names(report) -> list[str]:
    return [str(x) if len(str(x)) <= 18 else str(x)[:17] + "…" for x in report.ids]


def reach_curve(report, path: str | Path) -> Path:
    """Cumulative unique reach in booking order; returns the written path."""
    plt = _pyplot()
    path = Path(path)
    k = report.k
    x = np.arange(1, k + 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * k + 3), 4.5))
    if k:
        cum = np.cumsum(report.incremental)
        ax.plot(x, np.cumsum(report.audience), "--", color="grey", label="gross reach (Σ audiences)")
        ax.plot(x, cum, "o-", color="C0", label="unique reach (measured)")
        n = report.n_population
        if n:
            frac = np.minimum(report.audience / n, 1.0)
            ax.plot(x, n * (1 - np.cumprod(1 - frac)), ":", color="C3", label="Sainsbury estimate")
        ax.bar(x, report.incremental, alpha=0.3, color="C0", label="incremental reach")
        ax.set_xticks(x)
        ax.set_xticklabels(_names(report), rotation=45, ha="right")
    ax.set_xlabel("creators, in booking order")
    ax.set_ylabel("accounts")
    ax.set_title(f"reach curve: {report.unique_reach:,} unique of {report.gross_reach:,} gross")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def overlap_heatmap(report, path: str | Path, by: str = "jaccard") -> Path:
    """Annotated k x k overlap heatmap under the normalisation ``by``."""
    plt = _pyplot()
    path = Path(path)
    mat = report.overlap(by)
    k = report.k
    size = max(4.0, 0.55 * k + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(mat, cmap="viridis")
    names = _names(report)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_yticklabels(names)
    if k <= 25:
        hi = float(np.max(mat)) if k else 0.0
        for i in range(k):
            for j in range(k):
                v = mat[i, j]
                text = f"{int(v):,}" if MEASURES[by].integer else f"{v:.2f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="black" if hi and v > 0.6 * hi else "white")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(f"audience overlap: {MEASURES[by].label}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def upset(report, path: str | Path, top: int = 20) -> Path:
    """UpSet plot: the ``top`` largest regions as bars over a creator membership matrix."""
    plt = _pyplot()
    path = Path(path)
    regions = report.regions(limit=top)
    k = report.k
    names = _names(report)
    pos = {c: i for i, c in enumerate(report.ids)}
    n = len(regions)
    fig, (ax_bar, ax_dots) = plt.subplots(2, 1, figsize=(max(6, 0.45 * n + 3), 3 + 0.3 * k + 2),
                                          gridspec_kw={"height_ratios": [3, max(1, 0.3 * k)]},
                                          sharex=True)
    x = np.arange(n)
    counts = [r["count"] for r in regions]
    ax_bar.bar(x, counts, color="C0")
    for xi, c in zip(x, counts, strict=True):
        ax_bar.text(xi, c, f"{c:,}", ha="center", va="bottom", fontsize=7, rotation=90)
    ax_bar.set_ylabel("followers in region")
    ax_bar.set_title(f"UpSet: {min(n, top)} largest of {len(report.region_counts):,} regions "
                     f"(unique reach {report.unique_reach:,})", fontsize=10)
    for xi, r in enumerate(regions):
        rows = sorted(pos[c] for c in r["creators"])
        ax_dots.scatter([xi] * k, range(k), color="lightgrey", s=30)
        ax_dots.scatter([xi] * len(rows), rows, color="black", s=30)
        if len(rows) > 1:
            ax_dots.plot([xi, xi], [rows[0], rows[-1]], color="black")
    ax_dots.set_yticks(range(k))
    ax_dots.set_yticklabels(names)
    ax_dots.set_ylim(k - 0.5, -0.5)
    ax_dots.set_xticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reach_plots(report, stem: str | Path) -> dict[str, Path]:
    """The reach curve, overlap heatmap and UpSet plot as ``<stem>-reach-curve.png``,
    ``<stem>-overlap.png`` and ``<stem>-upset.png``; returns the written paths by name."""
    return {"curve": reach_curve(report, f"{stem}-reach-curve.png"),
            "overlap": overlap_heatmap(report, f"{stem}-overlap.png"),
            "upset": upset(report, f"{stem}-upset.png")}
