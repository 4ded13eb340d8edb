"""Every plot kolgraph draws (matplotlib, Agg backend), given its result object.

Reach (a :class:`~kolgraph.reach.ReachReport`):

- :func:`reach_curve`: cumulative unique reach as creators are added, beside gross
  reach, expected reach and the independence (Sainsbury) estimate;
- :func:`overlap_heatmap`: annotated pairwise overlap matrix under one labelled
  normalisation;
- :func:`upset`: an UpSet plot of the largest Venn regions;
- :func:`reach_plots`: all three, named after one file stem.

Propagation: :func:`spread_plot`. Planning: :func:`plot_curve`. Fraud (PNG data URIs for
the HTML report): :func:`growth_png`, :func:`composition_png`, :func:`score_png`.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from kolgraph.measures import MEASURES


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Lay out, write as a PNG at 110 dpi, close; returns the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def _names(report) -> list[str]:
    return [str(x) if len(str(x)) <= 18 else str(x)[:17] + "…" for x in report.ids]


def reach_curve(report, path: str | Path) -> Path:
    """Cumulative unique reach in booking order; returns the written path."""
    plt = pyplot()
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
    return _save(fig, path)


def overlap_heatmap(report, path: str | Path, by: str = "jaccard") -> Path:
    """Annotated k x k overlap heatmap under the normalisation ``by``."""
    plt = pyplot()
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
    return _save(fig, path)


def upset(report, path: str | Path, top: int = 20) -> Path:
    """UpSet plot: the ``top`` largest regions as bars over a creator membership matrix."""
    plt = pyplot()
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
    return _save(fig, path)


def reach_plots(report, stem: str | Path) -> dict[str, Path]:
    """The reach curve, overlap heatmap and UpSet plot as ``<stem>-reach-curve.png``,
    ``<stem>-overlap.png`` and ``<stem>-upset.png``; returns the written paths by name."""
    return {"curve": reach_curve(report, f"{stem}-reach-curve.png"),
            "overlap": overlap_heatmap(report, f"{stem}-overlap.png"),
            "upset": upset(report, f"{stem}-upset.png")}


# --- propagation ---------------------------------------------------------------------------
def spread_plot(result, path: str | Path) -> Path:
    """Histogram of the simulated spreads with the mean and its 95% interval; returns the path."""
    plt = pyplot()
    path = Path(path)
    h = result.histogram(bins=40)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if h["counts"]:
        edges = np.asarray(h["edges"])
        ax.bar(edges[:-1], h["counts"], width=np.diff(edges), align="edge", color="#4c72b0",
               alpha=0.8, label=f"{result.runs:,} simulations")
        low, high = result.ci
        ax.axvline(result.mean, color="black", lw=1.5, label=f"mean {result.mean:,.1f}")
        ax.axvspan(low, high, color="orange", alpha=0.35,
                   label=f"95% CI [{low:,.1f}, {high:,.1f}]")
    ax.set_xlabel("accounts activated (seeds included)")
    ax.set_ylabel("simulations")
    ax.set_title(f"spread of {len(result.seeds)} seed(s), {result.model.upper()} {result.params}"[:90])
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


# --- plan ----------------------------------------------------------------------------------
def plot_curve(p, path: str | Path) -> Path:
    """Objective value against spend as the plan adds creators, beside the naive plan."""
    plt = pyplot()
    path = Path(path)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    spend = [pt["spend"] for pt in p.curve]
    val = [pt["value"] for pt in p.curve]
    ax.step(spend, val, where="post", color="C0", label=f"plan ({len(p.chosen)} creators)")
    ax.plot(spend, val, "o", color="C0", ms=4)
    for pt in p.curve[1:7]:
        ax.annotate(str(pt["id"])[:14], (pt["spend"], pt["value"]), fontsize=7,
                    xytext=(3, -9), textcoords="offset points")
    nv = p.naive
    ax.axhline(nv["value"], ls="--", color="C1",
               label=f"naive plan: {nv['value']:,.0f} ({len(nv['chosen'])} creators)")
    ax.axhline(p.sainsbury, ls=":", color="C3", label=f"Sainsbury estimate of the plan: "
                                                        f"{p.sainsbury:,.0f}")
    ub = p.guarantee.get("upper_bound")
    if ub:
        ax.axhline(ub, ls="-.", color="grey", lw=0.8, label=f"upper bound on the optimum: {ub:,.0f}")
    ax.axvline(p.budget, color="k", lw=0.8, label=f"budget {p.budget:,.0f}")
    ax.set_xlabel("spend")
    ax.set_ylabel({"expected": "expected reach"}.get(p.objective, f"{p.objective} reach"
                  if not p.objective.startswith("effective") else f"R_{p.k} (effective reach)"))
    ax.set_title(f"reach/spend curve: {p.value:,.0f} for {p.cost:,.0f}")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


# --- fraud (embedded in the HTML report) ---------------------------------------------------
_DAY = 86_400


def png_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def growth_png(g, v: int, spikes: list[dict]) -> str | None:
    if g.followed_at is None:
        return None
    lo, hi = int(g.in_indptr[v]), int(g.in_indptr[v + 1])
    if hi == lo:
        return None
    days = np.asarray(g.followed_at[lo:hi]) // _DAY
    first = int(days.min())
    gains = np.bincount(days - first)
    x = (first + np.arange(len(gains))).astype("datetime64[D]")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.vlines(x, 0, gains, color="C0", linewidth=1, label="new followers per day")  # visible at any span
    total = ax.twinx()
    total.plot(x, np.cumsum(gains), color="grey", linewidth=1)
    total.set_ylabel("followers (grey)")
    if spikes:
        sx = np.array([s["date"] for s in spikes], dtype="datetime64[D]")
        sy = [s["gain"] for s in spikes]
        ax.scatter(sx, sy, color="C3", zorder=3, label="spike (vs trend + weekday baseline of the previous 28 days)")
    ax.set_ylabel("followers gained")
    ax.set_title("follower growth")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return png_data_uri(fig)


def composition_png(counts: dict[str, int], followers: int) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.6))
    names = list(counts)
    vals = [counts[k] for k in names]
    ax.barh(names, vals, color="C1")
    for i, val in enumerate(vals):
        ax.text(val, i, f" {val:,} ({val / followers:.1%})" if followers else f" {val:,}", va="center", fontsize=8)
    ax.set_xlabel(f"suspicious followers (of {followers:,})")
    ax.invert_yaxis()
    fig.tight_layout()
    return png_data_uri(fig)


def score_png(scores: np.ndarray, threshold: float) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.hist(scores, bins=np.linspace(0, 1, 21), color="C2")
    ax.axvline(threshold, color="C3", linestyle="--", label=f"flag threshold {threshold:g}")
    ax.set_xlabel("bot score of followers")
    ax.set_ylabel("followers")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return png_data_uri(fig)
