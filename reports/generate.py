#!/usr/bin/env python3
"""reports/generate.py: bench_as_tensor JSON + bench/peers.py JSON -> REPORT.md and PNG plots.

    python reports/generate.py --bench bench.json --peers peers.json --out-dir reports

The report is stamped with the machine (lscpu model, cores, memory), the git commit and the
date. Tables: every case with its reference and optimized times, the optimized/reference
speedup, the roofline fraction and whether the output memory was fresh; the Python peers
side by side with their ratios; and first, the headline numbers later issues must move.
Plots (matplotlib; skipped with a note when it is missing): throughput vs size per path with
the measured limit drawn.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

SUFFIXES = re.compile(r"(/(real_time|manual_time|iterations:\d+|repeats:\d+|threads:\d+_real))+$")


# --- reading --------------------------------------------------------------------------------

def parse_name(name):
    """'cast/float64_float32/contig/impl:reference/alloc:system/bytes:4KiB/real_time' ->
    (family, path, axes) with path 'cast/float64_float32/contig' and axes {impl:..., ...}."""
    base = SUFFIXES.sub("", name)
    parts = base.split("/")
    path, axes = [], {}
    for p in parts:
        if ":" in p:
            k, v = p.split(":", 1)
            axes[k] = v
        else:
            path.append(p)
    return parts[0], "/".join(path), axes


def size_bytes(text):
    m = re.fullmatch(r"(\d+)(KiB|MiB|GiB)?", text or "")
    if not m:
        return None
    return int(m.group(1)) * {None: 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m.group(2)]


def to_seconds(value, unit):
    return value * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def load_bench(path):
    with open(path) as f:
        doc = json.load(f)
    runs = doc.get("benchmarks", [])
    # With repetitions, keep the median aggregate; else the single iteration run.
    have_median = {r["run_name"] for r in runs if r.get("run_type") == "aggregate" and r.get("aggregate_name") == "median"}
    rows = []
    for r in runs:
        if r.get("run_type") == "aggregate" and r.get("aggregate_name") != "median":
            continue
        if r.get("run_type") != "aggregate" and r.get("run_name") in have_median:
            continue
        family, casepath, axes = parse_name(r.get("run_name", r["name"]))
        row = {
            "name": SUFFIXES.sub("", r.get("run_name", r["name"])),
            "family": family,
            "path": casepath,
            "axes": axes,
            "impl": axes.get("impl", "baseline"),
            "error": r.get("error_message") if r.get("error_occurred") else None,
            "label": r.get("label", ""),
        }
        if not row["error"]:
            row["time_s"] = to_seconds(r["real_time"], r["time_unit"])
            for k in ("bytes_per_second", "elems_per_s", "roofline", "roofline_wall", "limit_GBps",
                      "faults_per_iter", "threads", "wall_GBps", "wall_s_per_iter", "cold_ms", "warm_ms", "context_ms",
                      "setup_ms", "chunks", "chunk_MiB", "ratio_interleaved", "memcpy_interleaved_GBps"):
                if k in r:
                    row[k] = r[k]
            m = re.search(r"out:(\S+)", row["label"])
            row["out"] = m.group(1) if m else ""
            # The state of the memcpy baseline the roofline was taken against (bench/common.h
            # report_host_case: the same state as the case's output).
            m = re.search(r"limit:(\S+)", row["label"])
            row["limit_out"] = m.group(1) if m else ""
        rows.append(row)
    return doc.get("context", {}), rows


def out_memory(*rs):
    """'fresh (limit: fresh_huge memcpy)' per row; 'ref: ... / opt: ...' when two rows differ."""
    cells = []
    for r in rs:
        if not r:
            continue
        c = r.get("out", "")
        if r.get("limit_out"):
            c += f" (vs {r['limit_out']} memcpy)"
        cells.append(c)
    if len(cells) == 2 and cells[0] != cells[1]:
        return f"ref: {cells[0]} / opt: {cells[1]}"
    return cells[0] if cells else ""


# --- machine / git stamp ------------------------------------------------------------------------

def machine_stamp():
    model, cores = "unknown", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except Exception:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except Exception:
        pass
    return {"cpu": model, "cores": cores, "memory_GiB": round(mem / 2**30, 1) if mem else None}


def git_stamp(root):
    def run(*args):
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True).stdout.strip()
    commit = run("rev-parse", "--short=12", "HEAD") or "unknown"
    # The report's own outputs (reports/) are being rewritten right now: they do not count.
    dirty = bool(run("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)reports"))
    return commit + (" (+ uncommitted changes)" if dirty else "")


# --- formatting ---------------------------------------------------------------------------------

def fmt_time(s):
    if s is None:
        return "-"
    for unit, f in (("s", 1), ("ms", 1e3), ("us", 1e6)):
        if s * f >= 1:
            return f"{s * f:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def fmt_num(x, digits=3):
    return "-" if x is None else f"{x:.{digits}g}"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x"


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


# --- the report -----------------------------------------------------------------------------

def case_key(row):
    """The case without its impl axis: rows sharing a key are the same case, other impl."""
    axes = {k: v for k, v in row["axes"].items() if k != "impl"}
    return row["path"] + "".join(f"/{k}:{v}" for k, v in axes.items())


def paired(rows):
    """{case_key: {impl: row}} in first-seen order, errors excluded."""
    out = {}
    for r in rows:
        if r["error"]:
            continue
        out.setdefault(case_key(r), {})[r["impl"]] = r
    return out


def family_table(rows, prefix):
    pairs = paired([r for r in rows if r["name"].startswith(prefix)])
    body = []
    for key, by_impl in pairs.items():
        ref, opt, base = by_impl.get("reference"), by_impl.get("optimized"), by_impl.get("baseline")
        speed = ref["time_s"] / opt["time_s"] if ref and opt else None
        gbps = lambda r: fmt_num(r["bytes_per_second"] / 1e9) if r and "bytes_per_second" in r else "-"  # noqa: E731
        gel = lambda r: fmt_num(r["elems_per_s"] / 1e9) if r and "elems_per_s" in r else "-"  # noqa: E731
        roof = lambda r: fmt_num(r.get("roofline"), 2) if r else "-"  # noqa: E731
        body.append([
            f"`{key}`",
            fmt_time(ref["time_s"]) if ref else (fmt_time(base["time_s"]) + " (baseline)" if base else "-"),
            gbps(ref or base), gel(ref or base), roof(ref or base),
            fmt_time(opt["time_s"]) if opt else "not built",
            gbps(opt), roof(opt), fmt_ratio(speed),
            out_memory(ref or base, opt),
        ])
    header = ["case", "reference time", "ref GB/s", "ref Gelem/s", "ref roofline",
              "optimized time", "opt GB/s", "opt roofline", "speedup opt/ref", "output memory"]
    if any("wall_GBps" in r for v in pairs.values() for r in v.values()):
        # Transfers: the end-to-end (wall) figures beside the event-timed ones.
        header += ["wall GB/s ref / opt", "wall roofline ref / opt"]
        for row, by_impl in zip(body, pairs.values()):
            ref = by_impl.get("reference") or by_impl.get("baseline")
            opt = by_impl.get("optimized")
            row.append(f"{fmt_num(ref.get('wall_GBps')) if ref else '-'} / {fmt_num(opt.get('wall_GBps')) if opt else '-'}")
            row.append(f"{fmt_num(ref.get('roofline_wall'), 2) if ref else '-'} / "
                       f"{fmt_num(opt.get('roofline_wall'), 2) if opt else '-'}")
    return md_table(header, body) if body else "_no results_"


def headline(rows, peers):
    lines = []
    ok = [r for r in rows if not r["error"]]

    # 1. list conversion vs NumPy and torch.
    lines.append("**List conversion (Python lists -> tensor), ns per element** "
                 "(target: astensor <= NumPy, perf-anchors C3):\n")
    prow = []
    if peers:
        for c in peers["cases"]:
            if c["group"] not in ("list", "list_of_ndarrays"):
                continue
            res = c["results"]
            cell = lambda col: fmt_num(res[col]["ns_per_elem"]) if "ns_per_elem" in res[col] else _status(res[col])  # noqa: E731
            prow.append([f"`{c['case']}`", cell("numpy"), cell("torch"), cell("astensor"), cell("astensor.reference"),
                         fmt_ratio(c["time_ratios"].get("astensor/numpy")), fmt_ratio(c["time_ratios"].get("astensor/torch"))])
    lines.append(md_table(["case", "numpy", "torch", "astensor", "astensor.reference", "astensor/numpy time",
                           "astensor/torch time"], prow) if prow else "_peers not run_")
    seq = [r for r in ok if r["family"] == "seq"]
    if seq:
        lines.append("\nC++ nested sequences through NestedReader (no interpreter), ns per element:\n")
        lines.append(md_table(["case", "impl", "ns/elem"],
                              [[f"`{r['path']}/{'/'.join(f'{k}:{v}' for k, v in r['axes'].items() if k != 'impl')}`",
                                r["impl"], fmt_num(1e9 / r["elems_per_s"])] for r in seq]))

    # 2. cast throughput vs memcpy.
    lines.append("\n**Cast throughput vs memcpy** (largest size measured; roofline = fraction of the "
                 "memcpy limit with the same thread count; target >= 0.8, perf-anchors C2):\n")
    crow = []
    casts = [r for r in ok if r["family"] == "cast" and r["axes"].get("alloc") == "system"]
    largest = defaultdict(int)
    for r in casts:
        largest[r["path"]] = max(largest[r["path"]], size_bytes(r["axes"].get("bytes")) or 0)
    for r in casts:
        b = size_bytes(r["axes"].get("bytes"))
        if b != largest[r["path"]]:
            continue
        crow.append([f"`{r['path']}`", r["axes"]["bytes"], r["impl"], fmt_num(r["elems_per_s"] / 1e9),
                     fmt_num(r["bytes_per_second"] / 1e9), fmt_num(r.get("limit_GBps")),
                     f"{r.get('threads', 1):g}", fmt_num(r["roofline"], 2), out_memory(r)])
    lines.append(md_table(["cast", "size", "impl", "Gelem/s", "src GB/s", "memcpy GB/s", "threads", "roofline",
                           "output memory"], crow) if crow else "_no cast results_")
    if peers:
        pc = [c for c in peers["cases"] if c["group"] == "cast"]
        if pc:
            lines.append("\nThe same casts from Python (median per call, fresh output):\n")
            lines.append(peers_table(pc))

    # The staging pipeline's host side (sim/stage) against memcpy with the same thread count.
    lines.append("\n" + staging_table(ok))
    # The cold first call: one-time set-up (pool, streams, allocator) = cold - warm.
    cold = cold_table(ok)
    if cold:
        lines.append("\n" + cold)

    # Transfers, when a GPU ran: the pinned peak, the pageable driver path and as_tensor.
    cu = [r for r in ok if r["family"] == "cuda" and "many_small" not in r["path"] and "cold" not in r["path"]]
    if cu:
        big = max(size_bytes(r["axes"].get("bytes")) or 0 for r in cu)
        trow = [[f"`{case_key(r)}`", r["impl"], fmt_num(r["bytes_per_second"] / 1e9), fmt_num(r.get("wall_GBps")),
                 fmt_num(r.get("roofline"), 2), fmt_num(r.get("roofline_wall"), 2)]
                for r in cu if size_bytes(r["axes"].get("bytes")) == big]
        lines.append(f"\n**Host <-> CUDA at {big >> 20} MiB** (roofline = share of the link: the bytes that "
                     "must cross it under the best plan (the narrower dtype of a cast) / time / the pinned copy "
                     "bandwidth measured in the same run; 1.0 is the link's speed):\n")
        lines.append(md_table(["case", "impl", "event GB/s", "wall GB/s", "roofline (events)", "roofline (wall)"], trow))
    else:
        lines.append("\n**Host <-> CUDA**: not measured on this machine (no CUDA device; the `cuda/` cases are "
                     "listed as skipped below).")

    # 3. zero-copy call cost.
    lines.append("\n**Zero-copy call cost** (target <= 2 us and independent of size, perf-anchors C1):\n")
    zrow = [[f"`{r['name']}`", r["impl"], fmt_time(r["time_s"])] for r in ok if r["path"].startswith("cpu/share")]
    lines.append(md_table(["case", "impl", "time per call"], zrow) if zrow else "_no share results_")
    if peers:
        pz = [c for c in peers["cases"] if c["group"] == "zero_copy"]
        if pz:
            lines.append("\nFrom Python:\n")
            lines.append(peers_table(pz))
    return "\n".join(lines)


STAGING_TARGET = 0.8
COLD_SETUP_TARGET_MS = 20.0


def staging_table(ok):
    """sim/stage/* rows: the staging fill's rate against memcpy of (src + dst) / 2 bytes with the
    same thread count (the roofline counter), per dtype pair and size, with the target."""
    st = [r for r in ok if r["path"].startswith("sim/stage/")]
    head = ("**Staging pipeline, host side vs memcpy** (pageable source -> pinned slots with the cast fused, "
            "`sim/stage/`; ratio = memcpy time of (src + dst) / 2 bytes with the same thread count / fill time, "
            "medians of memcpy runs interleaved with the fills where the case measured them, else the roofline; "
            f"target >= {STAGING_TARGET} from 16 MiB on, issue 6):\n")
    if not st:
        return head + "\n_not measured (no `sim/stage/` results)_"
    st.sort(key=lambda r: (r["path"], size_bytes(r["axes"].get("bytes")) or 0))
    body = []
    for r in st:
        ratio = r.get("ratio_interleaved", r.get("roofline"))
        big = (size_bytes(r["axes"].get("bytes")) or 0) >= 16 << 20
        verdict = "-" if ratio is None or not big else ("meets" if ratio >= STAGING_TARGET else "below")
        body.append([f"`{r['path']}`", r["axes"].get("bytes", "?"), f"{r.get('threads', 1):g}",
                     fmt_num(r["bytes_per_second"] / 1e9) if "bytes_per_second" in r else "-",
                     fmt_num(r.get("memcpy_interleaved_GBps", r.get("limit_GBps"))), fmt_ratio(ratio), verdict])
    return head + "\n" + md_table(["fill", "size", "threads", "src GB/s", "memcpy GB/s", "ratio", "target"], body)


def cold_table(ok):
    """Cold first-call rows that carry setup_ms (sim/h2d/cold, cuda/h2d/cold)."""
    cold = [r for r in ok if "/cold/" in r["path"] and r.get("setup_ms") is not None]
    if not cold:
        return ""
    body = []
    for r in cold:
        setup = r["setup_ms"]
        body.append([f"`{case_key(r)}`", r.get("label", ""), fmt_num(r.get("cold_ms")), fmt_num(r.get("warm_ms")),
                     fmt_num(setup), "meets" if setup <= COLD_SETUP_TARGET_MS else "above"])
    return (f"**Cold first call** (set-up = first call - the call right after it; target <= "
            f"{COLD_SETUP_TARGET_MS:g} ms with the pool, issue 6):\n\n"
            + md_table(["case", "label", "first call ms", "next call ms", "set-up ms", "target"], body))


def _status(res):
    st = res.get("status", "")
    if st.startswith("not built"):
        return "not built"
    if st.startswith("error"):
        return "error"
    return st or "-"


def peers_table(cases):
    body = []
    for c in cases:
        res = c["results"]
        cell = lambda col: fmt_time(res[col]["median_s"]) if "median_s" in res[col] else _status(res[col])  # noqa: E731
        r = c["time_ratios"]
        body.append([f"`{c['case']}`", cell("numpy"), cell("torch"), cell("astensor"), cell("astensor.reference"),
                     fmt_ratio(r.get("astensor/numpy")), fmt_ratio(r.get("astensor/torch")),
                     fmt_ratio(1 / r["astensor/astensor.reference"]) if r.get("astensor/astensor.reference") else "-",
                     fmt_ratio(r.get("torch/numpy"))])
    return md_table(["case", "numpy", "torch", "astensor", "astensor.reference", "astensor/numpy time",
                     "astensor/torch time", "speedup astensor vs reference", "torch/numpy time"], body)


# --- plots ------------------------------------------------------------------------------------------

def make_plots(rows, out_dir, stamp):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:
        return [], f"plots skipped: matplotlib not importable ({e})"
    ok = [r for r in rows if not r["error"] and size_bytes(r["axes"].get("bytes"))]
    made = []

    def series(pred):
        s = defaultdict(list)
        for r in ok:
            if pred(r):
                label = case_key({**r, "axes": {k: v for k, v in r["axes"].items() if k != "bytes"}})
                s[(label, r["impl"])].append(r)
        for v in s.values():
            v.sort(key=lambda r: size_bytes(r["axes"]["bytes"]))
        return s

    def plot(fname, title, groups, ylabel, metric, limit_of=None, limit_label="measured limit"):
        n = len(groups)
        if n == 0:
            return
        cols = min(n, 2)
        rows_ = (n + cols - 1) // cols
        fig, axs = plt.subplots(rows_, cols, figsize=(7 * cols, 4.2 * rows_), squeeze=False)
        for ax, (gtitle, pred) in zip(axs.flat, groups):
            s = series(pred)
            limit_pts = defaultdict(dict)  # impl -> {bytes: limit}
            for (label, impl), pts in s.items():
                xs = [size_bytes(r["axes"]["bytes"]) for r in pts]
                ys = [metric(r) for r in pts]
                style = "-o" if impl in ("optimized", "baseline") else "--s"
                short = label.split("/", 2)[-1] if label.count("/") >= 2 else label
                ax.plot(xs, ys, style, label=f"{short} [{impl}]", markersize=4)
                if limit_of:
                    for r in pts:
                        lim = limit_of(r)
                        if lim:
                            b = size_bytes(r["axes"]["bytes"])
                            limit_pts[impl][b] = max(limit_pts[impl].get(b, 0), lim)
            for k, (impl, pts) in enumerate(sorted(limit_pts.items())):
                xs = sorted(pts)
                ax.plot(xs, [pts[x] for x in xs], ":" if k == 0 else "-.", color="black", linewidth=2,
                        label=f"{limit_label} [{impl}]")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("size (bytes of source)")
            ax.set_ylabel(ylabel)
            ax.set_title(gtitle, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "no results", transform=ax.transAxes, ha="center")
        for ax in list(axs.flat)[n:]:
            ax.axis("off")
        fig.suptitle(f"{title}\n{stamp}", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, fname), dpi=90)
        plt.close(fig)
        made.append(fname)

    gbps = lambda r: r["bytes_per_second"] / 1e9  # noqa: E731
    # The limit in the case's own units: bytes_per_second / roofline (roofline = achieved/limit).
    limit_src = lambda r: (r["bytes_per_second"] / 1e9 / r["roofline"]) if r.get("roofline") else None  # noqa: E731

    plot("copy_throughput.png", "Host copies: memcpy baselines and as_tensor(copy=True), float32",
         [("memcpy (1 and N threads; reused vs fresh output)", lambda r: r["path"] == "cpu/memcpy"),
          ("as_tensor copy float32 (alloc:system)", lambda r: r["path"].startswith("cpu/copy") and r["axes"].get("alloc") == "system"),
          ("as_tensor copy float32 contig: alloc:system vs alloc:retain", lambda r: r["path"] == "cpu/copy/float32/contig")],
         "GB/s (source bytes)", gbps, limit_of=lambda r: limit_src(r) if r["path"] != "cpu/memcpy" else None,
         limit_label="memcpy limit, same threads")
    pairs = sorted({r["path"].split("/")[1] for r in ok if r["family"] == "cast"})
    plot("cast_throughput.png", "Casts to a new host tensor (source GB/s); limit = memcpy of (src+dst)/2 bytes",
         [(f"cast {p}", (lambda p: lambda r: r["family"] == "cast" and r["path"].split("/")[1] == p)(p)) for p in pairs],
         "GB/s (source bytes)", gbps, limit_of=limit_src, limit_label="memcpy limit, same threads")
    if any(r["family"] == "cuda" for r in ok):
        plot("transfer_throughput.png", "Host <-> CUDA transfers (wall GB/s of source bytes); limit = pinned CE peak",
             [("H2D", lambda r: r["path"].startswith("cuda/h2d") and "many_small" not in r["path"] and "cold" not in r["path"]),
              ("D2H", lambda r: r["path"].startswith("cuda/d2h"))],
             "GB/s", lambda r: r.get("wall_GBps") or gbps(r),
             limit_of=lambda r: r.get("limit_GBps"), limit_label="pinned copy-engine peak (T1)")
    if any(r["family"] == "sim" for r in ok):
        plot("sim_throughput.png", "Host <-> sim transfers (GB/s of source bytes)",
             [("sim h2d / d2h", lambda r: r["family"] == "sim" and not r["path"].startswith("sim/stage")
               and "/cold/" not in r["path"]),
              ("staging host side only (sim/stage); limit = memcpy, same threads",
               lambda r: r["path"].startswith("sim/stage"))],
             "GB/s", gbps, limit_of=limit_src)
    return made, None


def peers_plot(peers, out_dir, stamp):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return None
    cases = peers["cases"]
    cols = ["numpy", "torch", "astensor", "astensor.reference"]
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.2
    for i, col in enumerate(cols):
        xs, ys = [], []
        for j, c in enumerate(cases):
            r = c["results"][col]
            if "median_s" in r:
                xs.append(j + (i - 1.5) * width)
                ys.append(r["median_s"] * 1e6)
        ax.bar(xs, ys, width, color=f"C{i}", label=col + ("" if xs else " (not built)"))
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([c["case"] for c in cases], rotation=35, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("median time per call (us, log)")
    ax.set_title(f"Python peers: as_tensor vs torch vs numpy (lower is better)\n{stamp}", fontsize=9)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "peers.png"), dpi=90)
    plt.close(fig)
    return "peers.png"


def generate(bench_path, peers_path, out_dir, root):
    os.makedirs(out_dir, exist_ok=True)
    ctx, rows = load_bench(bench_path) if bench_path and os.path.exists(bench_path) else ({}, [])
    peers = None
    if peers_path and os.path.exists(peers_path):
        with open(peers_path) as f:
            peers = json.load(f)
    m = machine_stamp()
    commit = git_stamp(root)
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    stamp = f"{m['cpu']}, {m['cores']} cores | commit {commit} | {date}"

    plots, plot_note = make_plots(rows, out_dir, stamp)
    if peers:
        p = peers_plot(peers, out_dir, stamp)
        if p:
            plots.append(p)

    md = ["# astensor: as_tensor performance report", ""]
    md.append(f"- **Machine**: {m['cpu']}, {m['cores']} cores, {m['memory_GiB']} GiB memory")
    md.append(f"- **Commit**: `{commit}`")
    md.append(f"- **Date**: {date}")
    if ctx:
        md.append(f"- **bench_as_tensor**: implementations: {ctx.get('astensor_impls', '?')}; "
                  f"CUDA build: {ctx.get('astensor_cuda_build', '?')}; CUDA devices: {ctx.get('astensor_cuda_devices', '?')}; "
                  f"sizes up to {ctx.get('astensor_max_bytes', '?')} bytes")
        if ctx.get("astensor_notes"):
            md.append(f"- **Notes**: {ctx['astensor_notes']}")
    if peers:
        pc = peers["context"]
        cols = ", ".join(f"{k}: {v}" for k, v in pc.get("columns", {}).items())
        md.append(f"- **bench/peers.py**: Python {pc.get('python')}, numpy {pc.get('numpy')}, torch {pc.get('torch')} "
                  f"({pc.get('torch_threads')} threads); {peers.get('reps')} interleaved repeats, medians; columns: {cols}")
    md.append("")
    md.append("How to read this: `bench/README.md`. Times are per call (medians where repeated); the roofline "
              "is the fraction of this machine's own limit measured in the same run (host memcpy with the same "
              "thread count for host cases, the pinned copy-engine peak for transfers); `output memory` says "
              "whether the output pages were fresh (first touch paid inside the timing) or reused, measured "
              "from page faults, and which memcpy baseline the roofline used: the same state (a fresh case "
              "is judged against memcpy into fresh pages of the same size, `fresh_huge` = 2 MiB pages).")
    md.append("")
    md.append("## The numbers later issues must move")
    md.append("")
    md.append(headline(rows, peers))
    md.append("")
    if plots:
        md.append("## Plots")
        md.append("")
        for p in plots:
            md.append(f"![{p}]({p})")
            md.append("")
    if plot_note:
        md.append(f"_{plot_note}_\n")
    sections = [("Host baselines and copies (`cpu/`)", "cpu/"), ("Casts (`cast/`)", "cast/"),
                ("Nested C++ sequences (`seq/`)", "seq/"), ("Simulated accelerator (`sim/`)", "sim/"),
                ("CUDA (`cuda/`)", "cuda/")]
    md.append("## All cases")
    md.append("")
    for title, prefix in sections:
        ran = [r for r in rows if r["name"].startswith(prefix) and not r["error"]]
        skipped = [r for r in rows if r["name"].startswith(prefix) and r["error"]]
        md.append(f"### {title}")
        md.append("")
        if ran:
            md.append(family_table(rows, prefix))
            md.append("")
        if skipped:
            reasons = defaultdict(list)
            for r in skipped:
                reasons[r["error"]].append(r["name"])
            for reason, names in reasons.items():
                md.append(f"{len(names)} case(s) skipped: {reason}")
                md.append("")
                md.append("<details><summary>skipped cases</summary>\n")
                md.extend(f"- `{n}`" for n in names)
                md.append("\n</details>\n")
        if not ran and not skipped:
            note = ""
            if prefix == "sim/" and ctx.get("astensor_notes"):
                note = next((s for s in ctx["astensor_notes"].split(" | ") if s.startswith("sim/")), "")
            md.append(f"_not run{': ' + note if note else ''}_\n")
    if peers:
        md.append("## Python peers (`bench/peers.py`)")
        md.append("")
        md.append(peers_table(peers["cases"]))
        md.append("")
        bad = {k: v for k, v in peers["context"].get("columns", {}).items() if v != "ok"}
        for k, v in bad.items():
            md.append(f"- column `{k}`: {v}")
        md.append("")
    path = os.path.join(out_dir, "REPORT.md")
    with open(path, "w") as f:
        f.write("\n".join(md).rstrip() + "\n")
    return path, plots


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", help="bench_as_tensor --benchmark_format=json output")
    ap.add_argument("--peers", help="bench/peers.py --out output")
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="the git checkout to stamp")
    args = ap.parse_args(argv)
    if not args.bench and not args.peers:
        ap.error("give --bench and/or --peers")
    path, plots = generate(args.bench, args.peers, args.out_dir, args.root)
    print(f"reports/generate.py: wrote {path} and {len(plots)} plot(s): {', '.join(plots)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
