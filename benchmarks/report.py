"""Turn a pytest-benchmark JSON into a report: ``report.md``, ``report.json`` and plots.

Benchmarks are paired through ``extra_info``: ``group`` (same group = same data,
same run), ``peer`` (the workload's name), ``role`` (``kolgraph`` or ``peer``)
and ``targets``, a list such as ``{"peer": "pandas+networkx", "min_speedup": 20}``
(at least 20x faster than that workload) or ``{"peer": "pyarrow.read_csv",
"max_slowdown": 4}`` (at most 4x its time). Nothing here knows any workload by
name: a new benchmark that fills these fields appears in the report with its
ratios and targets.

A ratio is always ``peer median / workload median`` over medians of the same
run: above 1 the workload is faster, below 1 slower.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from benchmarks.data import REPO_ROOT

KEY_PACKAGES = ("numpy", "numba", "pyarrow", "pandas", "networkx", "igraph", "kolgraph",
                "pytest-benchmark", "matplotlib")
TARGET_KINDS = ("min_speedup", "max_slowdown")


# --- machine ------------------------------------------------------------------------------
def machine_info() -> dict:
    """CPU, cores, RAM, OS, Python and key package versions, git commit, date."""
    info: dict = {"date_utc": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    info["cpu_model"] = _cpu_model()
    info["logical_cores"] = os.cpu_count()
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["ram_bytes"] = psutil.virtual_memory().total
    except ImportError:  # pragma: no cover - psutil is a kolgraph dependency
        info["physical_cores"] = None
        info["ram_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    info["os"] = platform.platform()
    info["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    info["packages"] = {}
    for name in KEY_PACKAGES:
        try:
            info["packages"][name] = version(name)
        except PackageNotFoundError:
            info["packages"][name] = None
    try:
        import numba

        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    except ImportError:  # pragma: no cover
        pass
    info["git_commit"] = _git_commit()
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
        return head + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


# --- analysis -----------------------------------------------------------------------------
def analyse(raw: dict, skipped: list[dict] | None = None) -> dict:
    """Groups, each workload's stats and ratios to every peer of its group, and targets."""
    groups: dict[str, dict] = {}
    for b in raw.get("benchmarks", []):
        ex = b.get("extra_info", {})
        group = ex.get("group") or b.get("group") or "ungrouped"
        st = b["stats"]
        entry = {
            "name": ex.get("peer") or b["name"],
            "test": b.get("fullname", b["name"]),
            "role": ex.get("role", "peer"),
            "code": ex.get("code", ""),
            "median_s": st["median"], "iqr_s": st["iqr"], "q1_s": st["q1"], "q3_s": st["q3"],
            "min_s": st["min"], "max_s": st["max"], "mean_s": st["mean"],
            "stddev_s": st["stddev"], "rounds": st["rounds"],
            "warmup": ex.get("warmup"),
            "edges": ex.get("edges"),
            "edges_per_s": ex["edges"] / st["median"] if ex.get("edges") and st["median"] else None,
            "peak_rss_bytes": ex.get("peak_rss_bytes"),
            "rss_baseline_bytes": ex.get("rss_baseline_bytes"),
            "phases": ex.get("phases", {}),
            "summary": ex.get("summary", {}),
            "targets": ex.get("targets", []),
            "data": ex.get("data"), "data_bytes": ex.get("data_bytes"),
        }
        groups.setdefault(group, {"workloads": [], "skipped": [], "targets": []})
        groups[group]["workloads"].append(entry)
    for s in skipped or []:
        groups.setdefault(s["group"], {"workloads": [], "skipped": [], "targets": []})
        groups[s["group"]]["skipped"].append(s)

    all_targets = []
    for name, g in groups.items():
        ws = sorted(g["workloads"], key=lambda w: w["median_s"])
        g["workloads"] = ws
        peers = [w for w in ws if w["role"] == "peer"]
        g["peers"] = [p["name"] for p in peers]
        by_name = {w["name"]: w for w in ws}
        for w in ws:
            w["speedup_vs"] = {p["name"]: p["median_s"] / w["median_s"]
                               for p in peers if p is not w and w["median_s"] > 0}
        skipped_by_name = {s["peer"]: s for s in g["skipped"]}
        for w in ws:
            for t in w["targets"]:
                res = evaluate_target(w, t, by_name, skipped_by_name)
                res["group"] = name
                g["targets"].append(res)
                all_targets.append(res)
        ref = next((w for w in ws if w["role"] == "kolgraph" and w["targets"]), None) or \
            next((w for w in ws if w["role"] == "kolgraph"), None)
        g["reference"] = ref["name"] if ref else None
    return {"groups": groups, "targets": all_targets}


def evaluate_target(w: dict, t: dict, by_name: dict, skipped: dict) -> dict:
    """``PASS``/``MISS`` (or ``n/a`` with why) for one declared target of workload ``w``."""
    kind = next((k for k in TARGET_KINDS if k in t), None)
    out = {"workload": w["name"], "peer": t.get("peer"), "kind": kind,
           "bound": t.get(kind) if kind else None, "measured": None, "result": "n/a", "why": ""}
    if kind is None:
        out["why"] = f"unknown target {t!r}; use one of {', '.join(TARGET_KINDS)}"
        return out
    peer = by_name.get(t["peer"])
    if peer is None:
        out["why"] = (f"{t['peer']} skipped: {skipped[t['peer']]['reason']}" if t["peer"] in skipped
                      else f"{t['peer']} was not run (deselected?)")
        return out
    if kind == "min_speedup":
        out["measured"] = peer["median_s"] / w["median_s"]
        ok = out["measured"] >= t[kind]
    else:
        out["measured"] = w["median_s"] / peer["median_s"]
        ok = out["measured"] <= t[kind]
    out["result"] = "PASS" if ok else "MISS"
    return out


# --- formatting ---------------------------------------------------------------------------
def fmt_seconds(s: float | None) -> str:
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_bytes(b: float | None) -> str:
    if not b:
        return "—"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"


def fmt_ratio(speedup: float) -> str:
    """``peer/this`` as "12.3× faster" or "2.41× slower"."""
    if speedup >= 1:
        return f"{speedup:.3g}× faster"
    return f"{1 / speedup:.3g}× slower"


def fmt_target(t: dict) -> str:
    if t["kind"] == "min_speedup":
        return f"≥ {t['bound']:g}× faster than {t['peer']}"
    if t["kind"] == "max_slowdown":
        return f"≤ {t['bound']:g}× the time of {t['peer']}"
    return str(t)


def fmt_measured(t: dict) -> str:
    if t["measured"] is None:
        return "—"
    if t["kind"] == "min_speedup":
        return f"{t['measured']:.3g}× faster"
    return f"{t['measured']:.3g}× the time"


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")


def _rate(r: float | None) -> str:
    if not r:
        return "—"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if r >= scale:
            return f"{r / scale:.3g} {unit}"
    return f"{r:.3g}"


# --- writing ------------------------------------------------------------------------------
def render_markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# kolgraph benchmark report", ""]
    lines += [f"- **Size**: {report['size_description']}",
              f"- **Date**: {m['date_utc']}",
              f"- **Command**: `{report['command']}`",
              f"- **pytest exit code**: {report['pytest_exit_code']}"]
    n_pass = sum(t["result"] == "PASS" for t in report["targets"])
    n_miss = sum(t["result"] == "MISS" for t in report["targets"])
    n_na = sum(t["result"] == "n/a" for t in report["targets"])
    lines.append(f"- **Targets**: {n_pass} PASS, {n_miss} MISS, {n_na} n/a")
    load = report.get("load_average")
    if load:
        lines.append(f"- **Load average** (1 min) before / after: {load['before'][0]:.2f} / "
                     f"{load['after'][0]:.2f} on {m.get('usable_cores') or m['logical_cores']} cores "
                     "(other processes share this machine: read medians and ratios, not single runs)")
    lines += ["", "## Machine", "", "| | |", "|---|---|",
              f"| CPU | {m['cpu_model']} |",
              f"| cores | {m['logical_cores']} logical, {m.get('physical_cores')} physical"
              f"{', numba threads ' + str(m['numba_threads']) if m.get('numba_threads') else ''} |",
              f"| RAM | {fmt_bytes(m['ram_bytes'])} |",
              f"| OS | {m['os']} |",
              f"| Python | {m['python']} |",
              f"| packages | {', '.join(f'{k} {v}' for k, v in m['packages'].items() if v)} |",
              f"| git commit | {m.get('git_commit') or '—'} |", ""]
    if report["targets"]:
        lines += ["## Targets", "", "| group | workload | target | measured | result |",
                  "|---|---|---|---|---|"]
        for t in report["targets"]:
            res = t["result"] if t["result"] != "n/a" else f"n/a ({t['why']})"
            lines.append(f"| {t['group']} | {t['workload']} | {fmt_target(t)} | "
                         f"{fmt_measured(t)} | **{res}** |")
        lines.append("")
    for name, g in report["groups"].items():
        lines += [f"## {name}", ""]
        ws = g["workloads"]
        if ws and ws[0].get("data"):
            lines += [f"Data: `{ws[0]['data']}` ({fmt_bytes(ws[0]['data_bytes'])}, "
                      f"{ws[0]['edges']:,} edge rows). Ratios are the peer's median ÷ the "
                      "workload's median, both from this run.", ""]
        peers = g["peers"]
        head = ["workload", "role", "median", "IQR", "rounds", "edges/s", "peak RSS"]
        head += [f"vs {p}" for p in peers]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for w in ws:
            row = [f"**{w['name']}**" if w["role"] == "kolgraph" else w["name"], w["role"],
                   fmt_seconds(w["median_s"]), fmt_seconds(w["iqr_s"]),
                   f"{w['rounds']}{'' if w.get('warmup', True) else ' (no warm-up)'}",
                   _rate(w["edges_per_s"]), fmt_bytes(w["peak_rss_bytes"])]
            row += [fmt_ratio(w["speedup_vs"][p]) if p in w["speedup_vs"] else "—" for p in peers]
            lines.append("| " + " | ".join(row) + " |")
        for s in g["skipped"]:
            row = [s["peer"], s["role"], "skipped", "", "", "", ""] + [""] * len(peers)
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        phased = [w for w in ws if w["phases"]]
        if phased:
            lines += ["Where kolgraph's time goes (median per phase over the timed rounds, from "
                      "the graph's own report):", ""]
            for w in phased:
                parts = ", ".join(f"{k.removesuffix('_seconds')} {fmt_seconds(v)}"
                                  for k, v in w["phases"].items())
                lines.append(f"- {w['name']}: {parts}")
            lines.append("")
        rss = [w for w in ws if w["peak_rss_bytes"]]
        if rss:
            lines += ["Peak RSS is one run in a fresh process (Linux VmHWM), including the "
                      "interpreter and imports; after imports the process held: "
                      + ", ".join(f"{w['name']} {fmt_bytes(w['rss_baseline_bytes'])}" for w in rss)
                      + ".", ""]
        lines += ["What each workload times:", ""]
        lines += [f"- `{w['name']}`: {w['code']}" for w in ws]
        lines += [f"- `{s['peer']}`: skipped: {s['reason']}" for s in g["skipped"]]
        lines.append("")
        if g.get("plot"):
            lines += [f"![{name}]({g['plot']})", ""]
    return "\n".join(lines)


def plot_group(name: str, g: dict, out_dir: Path) -> str | None:
    """Horizontal bars of median time (log axis), each labelled with its ratio to kolgraph."""
    ws = g["workloads"]
    if not ws:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = next((w for w in ws if w["name"] == g.get("reference")), None)
    names = [w["name"] for w in ws][::-1]
    med = [w["median_s"] for w in ws][::-1]
    lo = [max(0.0, w["median_s"] - w["q1_s"]) for w in ws][::-1]
    hi = [max(0.0, w["q3_s"] - w["median_s"]) for w in ws][::-1]
    colors = ["#1f6feb" if w["role"] == "kolgraph" else "#8b949e" for w in ws][::-1]
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(ws) + 1.6))
    ax.barh(names, med, xerr=[lo, hi], color=colors, capsize=3)
    ax.set_xscale("log")
    ax.set_xlabel("median time per run, seconds (log scale; whiskers: interquartile range)")
    ax.set_title(f"{name}: median of each workload, same run")
    for y, w in enumerate(ws[::-1]):
        label = fmt_seconds(w["median_s"])
        if ref is not None and w is not ref:
            label += f"  ({w['median_s'] / ref['median_s']:.3g}× the time of {ref['name']})"
        elif ref is not None:
            label += "  (reference)"
        ax.text(max(w["median_s"], w["q3_s"]) * 1.15, y, label, va="center", fontsize=8)
    left, right = min(med), max(med)
    ax.set_xlim(left / 2, right * 40)
    fig.tight_layout()
    fname = f"group-{slug(name)}.png"
    fig.savefig(out_dir / fname, dpi=120)
    plt.close(fig)
    return fname


def write_report(raw: dict, out_dir: Path, *, command: str, size_description: str,
                 pytest_exit_code: int, skipped: list[dict] | None = None,
                 load_average: dict | None = None) -> dict:
    """Write ``report.md``, ``report.json`` and ``group-*.png`` into ``out_dir``; return the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("group-*.png"):
        stale.unlink()
    analysis = analyse(raw, skipped)
    report = {"command": command, "size_description": size_description,
              "pytest_exit_code": pytest_exit_code, "machine": machine_info(),
              "load_average": load_average, **analysis}
    for name, g in report["groups"].items():
        g["plot"] = plot_group(name, g, out_dir)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (out_dir / "report.md").write_text(render_markdown(report))
    return report
