"""A self-contained HTML fraud report for one creator (plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from kolgraph.exceptions import InputError

_DAY = 86_400


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _growth_plot(g, v: int, spikes: list[dict]) -> str | None:
    from kolgraph.plots import _pyplot

    if g.followed_at is None:
        return None
    lo, hi = int(g.in_indptr[v]), int(g.in_indptr[v + 1])
    if hi == lo:
        return None
    days = np.asarray(g.followed_at[lo:hi]) // _DAY
    first = int(days.min())
    gains = np.bincount(days - first)
    x = (first + np.arange(len(gains))).astype("datetime64[D]")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.vlines(x, 0, gains, color="C0", linewidth=1, label="new followers per day")  # visible at any span
    total = ax.twinx()
    total.plot(x, np.cumsum(gains), color="grey", linewidth=1)
    total.set_ylabel("followers (grey)")
    if spikes:
        sx = np.array([s["date"] for s in spikes], dtype="datetime64[D]")
        sy = [s["gain"] for s in spikes]
        ax.scatter(sx, sy, color="C3", zorder=3, label="spike (vs median/MAD baseline)")
    ax.set_ylabel("followers gained")
    ax.set_title("follower growth")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _png(fig)


def _composition_plot(counts: dict[str, int], followers: int) -> str:
    from kolgraph.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.6))
    names = list(counts)
    vals = [counts[k] for k in names]
    ax.barh(names, vals, color="C1")
    for i, val in enumerate(vals):
        ax.text(val, i, f" {val:,} ({val / followers:.1%})" if followers else f" {val:,}", va="center", fontsize=8)
    ax.set_xlabel(f"suspicious followers (of {followers:,})")
    ax.invert_yaxis()
    fig.tight_layout()
    return _png(fig)


def _score_plot(scores: np.ndarray, threshold: float) -> str:
    from kolgraph.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.hist(scores, bins=np.linspace(0, 1, 21), color="C2")
    ax.axvline(threshold, color="C3", linestyle="--", label=f"flag threshold {threshold:g}")
    ax.set_xlabel("bot score of followers")
    ax.set_ylabel("followers")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def creator_html(report, path: str | Path, creator=None) -> Path:
    """Write the HTML report for ``creator`` (external id; default the first listed creator)."""
    g = report.graph
    d = report.to_dict(max_members=50)
    rows = {str(c["id"]): c for c in d["creators"]}
    if creator is None:
        if not d["creators"]:
            raise InputError("the report lists no creator; pass one (CLI: --creator ID)")
        row = d["creators"][0]
    elif str(creator) in rows:
        row = rows[str(creator)]
    else:
        raise InputError(f"creator {creator!r} is not in this report; run the review with "
                         f"creators=[{creator!r}] (CLI: --creator {creator})")
    v = int(g.index([row["id"]])[0])
    esc = html.escape
    parts = [f"<h1>Fraud review: {esc(str(row['id']))}</h1>",
             "<table>",
             f"<tr><th>followers</th><td>{row['followers']:,}</td></tr>",
             f"<tr><th>flagged followers</th><td>{row['flagged_followers']:,}</td></tr>",
             f"<tr><th>audience quality</th><td>{row['audience_quality']:.1%}</td></tr>",
             f"<tr><th>real reach</th><td>{row['real_reach']:,}</td></tr>",
             "</table>"]
    growth = _growth_plot(g, v, row.get("spikes", []))
    if growth:
        parts.append(f"<h2>Follower growth</h2><img src='{growth}' alt='follower growth'>")
    if row.get("spikes"):
        parts.append("<table><tr><th>spike day</th><th>gained</th><th>median day</th></tr>" + "".join(
            f"<tr><td>{s['date']}</td><td>{s['gain']:,}</td><td>{s['baseline']:g}</td></tr>"
            for s in row["spikes"]) + "</table>")
    parts.append("<h2>Suspicious followers by kind</h2>")
    parts.append(f"<img src='{_composition_plot(row['suspicious'], row['followers'])}' alt='by kind'>")
    clusters = {c["id"]: c for c in d["clusters"]}
    if row["clusters"]:
        parts.append("<h2>Lockstep clusters hitting this creator</h2><table><tr><th>cluster</th>"
                     "<th>its followers here</th><th>cluster size</th><th>density</th><th>lift</th>"
                     "<th>also bought from the same farm (top 10)</th></tr>")
        for hit in row["clusters"]:
            c = clusters[hit["id"]]
            others = ", ".join(f"{esc(str(f['id']))} ({f['followers']:,})" for f in c["fingerprint"][:10])
            parts.append(f"<tr><td>{c['id']}</td><td>{hit['followers']:,}</td><td>{c['followers_count']:,}</td>"
                         f"<td>{c['density']:.2f}</td><td>{c['significance']['lift']:.1f}</td><td>{others}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No lockstep cluster hits this creator.</p>")
    if report.bot_scores is not None:
        scores = report.bot_scores["score"].to_numpy(dtype=np.float64, na_value=0.0)[g.followers_idx(v)]
        parts.append("<h2>Bot scores of the followers</h2>")
        parts.append(f"<img src='{_score_plot(scores, report.params['bot_threshold'])}' alt='scores'>")
    if d["skipped"]:
        parts.append("<h2>Not checked</h2><ul>" + "".join(f"<li>{esc(s)}</li>" for s in d["skipped"]) + "</ul>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}img{max-width:100%}")
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>fraud review {esc(str(row['id']))}"
           f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")
    path = Path(path)
    path.write_text(doc, encoding="utf-8")
    return path
