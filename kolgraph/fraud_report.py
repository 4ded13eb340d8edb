"""A self-contained HTML fraud report for one creator (plots embedded as base64 PNG)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from kolgraph import plots
from kolgraph.exceptions import InputError

_DAY = 86_400


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
             *_engagement_rows(row.get("engagement")),
             "</table>"]
    growth = plots.growth_png(g, v, row.get("spikes", []))
    if growth:
        parts.append(f"<h2>Follower growth</h2><img src='{growth}' alt='follower growth'>")
    if row.get("spikes"):
        parts.append("<table><tr><th>spike day</th><th>gained</th><th>baseline</th><th>in clusters</th>"
                     "<th>in lockstep</th><th>looks</th></tr>" + "".join(
            f"<tr><td>{s['date']}</td><td>{s['gain']:,}</td><td>{s['baseline']:.0f}</td>"
            f"<td>{_share(s.get('cluster_share'))}</td><td>{_share(s.get('lockstep_share'))}</td>"
            f"<td>{s.get('kind', '')}</td></tr>" for s in row["spikes"]) + "</table>")
    parts.append("<h2>Suspicious followers by kind</h2>")
    parts.append(f"<img src='{plots.composition_png(row['suspicious'], row['followers'])}' alt='by kind'>")
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
    parts += _pods_html(d["pods"], row["id"])
    if report.bot_scores is not None:
        scores = report.bot_scores["score"].to_numpy(dtype=np.float64, na_value=0.0)[g.followers_idx(v)]
        parts.append("<h2>Bot scores of the followers</h2>")
        parts.append(f"<img src='{plots.score_png(scores, report.params['bot_threshold'])}' alt='scores'>")
    if d["skipped"]:
        parts.append("<h2>Not checked</h2><ul>" + "".join(f"<li>{esc(s)}</li>" for s in d["skipped"]) + "</ul>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}img{max-width:100%}")
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>fraud review {esc(str(row['id']))}"
           f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")
    path = Path(path)
    path.write_text(doc, encoding="utf-8")
    return path


def _share(x) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def _engagement_rows(e: dict | None) -> list[str]:
    if e is None:
        return []
    share = "n/a" if e["authentic_share"] is None else f"{e['authentic_share']:.1%}"
    return [f"<tr><th>interactions (fans)</th><td>{e['interactions']:,}</td></tr>",
            f"<tr><th>from flagged accounts</th><td>{e['flagged_interactions']:,}</td></tr>",
            f"<tr><th>from engagement pods</th><td>{e['pod_interactions']:,}</td></tr>",
            f"<tr><th>authentic engagement</th><td>{share}</td></tr>"]


def _pods_html(pods: list[dict], creator) -> list[str]:
    """The engagement pods working ``creator``: each pod's accounts, creators and, for this
    creator's posts, when its members interacted in lockstep."""
    esc = html.escape
    mine = [p for p in pods if any(str(c["id"]) == str(creator) for c in p["creators"])]
    if not mine:
        return ["<p>No engagement pod works this creator's posts.</p>"] if pods else []
    out = ["<h2>Engagement pods on this creator's posts</h2>"]
    for p in mine:
        shown = ", ".join(esc(str(a)) for a in p["accounts"])
        more = p["accounts_count"] - len(p["accounts"])
        out.append(f"<h3>Pod {p['id']}: {p['accounts_count']:,} accounts, {p['posts_count']:,} posts "
                   f"of {len(p['creators'])} creators</h3>"
                   f"<p>accounts: {shown}{f' and {more:,} more' if more > 0 else ''}</p>"
                   "<p>creators (posts worked): " + ", ".join(
                       f"{esc(str(c['id']))} ({c['posts']})" for c in p["creators"]) + "</p>")
        out.append("<table><tr><th>post</th><th>first</th><th>last</th><th>pod accounts</th>"
                   "<th>after the post</th></tr>" + "".join(
            f"<tr><td>{esc(str(e['post']))}</td><td>{e['first']}</td><td>{e['last']}</td>"
            f"<td>{e['accounts']:,}</td><td>{_delay(e['delay'])}</td></tr>"
            for e in p["posts"] if str(e["creator"]) == str(creator)) + "</table>")
    return out


def _delay(seconds) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.0f} min"
