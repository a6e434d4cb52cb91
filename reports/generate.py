#!/usr/bin/env python3
"""reports/generate.py: bench_as_tensor JSON + bench/peers.py JSON -> REPORT.md and PNG plots.

    python reports/generate.py --bench bench.json --peers peers.json --out-dir reports \
        [--previous OLD_bench.json]
    python reports/generate.py --compare OLD_bench.json NEW_bench.json

The report is stamped with where, when and from which commit the data was measured, read
from the data's own context (Google Benchmark's: host_name, date, num_cpus, mhz_per_cpu,
caches; bench_as_tensor's: astensor_commit, astensor_cpu_model, astensor_memory_GiB,
astensor_cuda_device, astensor_run), never from the machine that renders it; a smoke run
(ci/bench --quick: astensor_run=smoke) says so in the title. With --previous, the report
shows Google Benchmark's own comparison (compare.py, Debian libbenchmark-tools) of the
previous run against this one. Tables: every case with its reference and optimized times, the optimized/reference
speedup, the roofline fraction and whether the output memory was fresh; the Python peers
side by side with their ratios, then their overlap rows (bench/overlap.py, under "overlap" in
peers.json); and first, the headline numbers later issues must move.
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
import tempfile
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
                      "setup_ms", "link_bytes", "chunks", "chunk_MiB", "ratio_interleaved", "memcpy_interleaved_GBps",
                      "per_batch_ms", "bound_ms", "kernel_ms", "link_ms", "efficiency", "vs_bound", "batches", "prefetch",
                      "us_per_tensor", "pinned_copy_us_per_tensor", "ratio", "target"):
                if k in r:
                    row[k] = r[k]
            m = re.search(r"out:(\S+)", row["label"])
            row["out"] = m.group(1) if m else ""
            # The state of the memcpy baseline the roofline was taken against (bench/host_report.h
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


def _fmt_bytes(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.3g} {unit}"
    return f"{n} B"


def _fmt_date(text):
    """ISO dates of the data ('2026-12-04T18:42:20+00:00', '...Z') as 'YYYY-MM-DD HH:MM UTC'."""
    try:
        d = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return str(text)
    if d.tzinfo is not None:
        d = d.astimezone(_dt.timezone.utc)
        return d.strftime("%Y-%m-%d %H:%M UTC")
    return d.strftime("%Y-%m-%d %H:%M")


def data_stamp(ctx, peers, root):
    """Where, when and from which commit the data was measured, from the data's own context
    (bench_as_tensor's JSON first, then bench/peers.py's). Only what the data does not carry
    falls back to the rendering checkout, and then says so."""
    pc = (peers or {}).get("context", {})
    caches = []
    for c in ctx.get("caches") or []:
        kind = {"Data": "d", "Instruction": "i"}.get(c.get("type"), "")
        share = f" (shared by {c['num_sharing']})" if c.get("num_sharing", 1) > 1 else ""
        caches.append(f"L{c.get('level')}{kind} {_fmt_bytes(c.get('size', 0))}{share}")
    machine = []
    if ctx.get("astensor_cpu_model"):
        machine.append(ctx["astensor_cpu_model"])
    cpus = ctx.get("num_cpus") or pc.get("cpus")
    if cpus:
        machine.append(f"{cpus} CPUs" + (f" at {ctx['mhz_per_cpu']} MHz" if ctx.get("mhz_per_cpu") else ""))
    if ctx.get("astensor_memory_GiB"):
        machine.append(f"{ctx['astensor_memory_GiB']} GiB memory")
    if caches:
        machine.append("caches " + ", ".join(caches))
    host = ctx.get("host_name") or pc.get("host")
    gpu = ctx.get("astensor_cuda_device")
    if not gpu and str(ctx.get("astensor_cuda_devices", "")).split(" ")[0] not in ("", "0"):
        gpu = f"{ctx['astensor_cuda_devices']} device(s), name not recorded"
    date = ctx.get("date") or pc.get("date")
    commit = ctx.get("astensor_commit") or pc.get("commit")
    notes = []
    if not commit:
        commit = f"not recorded in the data (the rendering checkout is {git_stamp(root)})"
    if not (ctx or pc):
        m = machine_stamp()
        machine = [f"{m['cpu']}, {m['cores']} cores (the rendering machine: the data has no context)"]
        notes.append("no context in the data")
    smoke = ctx.get("astensor_run") == "smoke" or bool(pc.get("quick"))
    st = {
        "host": host or "unknown",
        "machine": ", ".join(machine) or "not recorded in the data",
        "gpu": gpu or "none",
        "date": _fmt_date(date) if date else "not recorded in the data",
        "commit": commit,
        "smoke": smoke,
        "notes": notes,
    }
    short_commit = commit.split(" ")[0] if ctx.get("astensor_commit") or pc.get("commit") else "?"
    st["line"] = (f"{'SMOKE RUN | ' if smoke else ''}host {st['host']}: {', '.join(machine[:2]) or '?'}"
                  f"{' | GPU ' + gpu if gpu and gpu != 'none' else ''} | commit {short_commit} | {st['date']}")
    return st


# --- comparing two runs: Google Benchmark's own tool ---------------------------------------------

COMPARE_PATHS = ("/usr/share/benchmark/compare.py",)  # Debian/Ubuntu libbenchmark-tools
COMPARE_HELP = ("Google Benchmark's compare.py is needed (Debian: apt-get install libbenchmark-tools "
                "python3-scipy; or set ASTENSOR_BENCH_COMPARE=/path/to/compare.py)")
COMPARE_THRESHOLD = 0.10  # a relative time change within +-10% counts as unchanged


class CompareUnavailable(RuntimeError):
    """compare.py is missing or failed; the message says what to install."""


def find_compare():
    env = os.environ.get("ASTENSOR_BENCH_COMPARE")
    for c in ([env] if env else COMPARE_PATHS):
        if c and os.path.isfile(c):
            return c
    raise CompareUnavailable(f"compare.py not found{' at ' + env if env else ''}: {COMPARE_HELP}")


def run_compare(old, new):
    """compare.py benchmarks OLD NEW: (its table, without colour; its -d JSON dump)."""
    tool = find_compare()
    # compare.py imports scipy: the system Python has it from python3-scipy, the venv may not.
    python = os.environ.get("ASTENSOR_BENCH_COMPARE_PYTHON") or (
        "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable)
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "compare.json")
        proc = subprocess.run([python, tool, "--no-color", "-d", dump, "benchmarks", old, new],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(dump):
            err = (proc.stderr or proc.stdout).strip()[-400:]
            hint = f" ({COMPARE_HELP})" if "No module named" in err else ""
            raise CompareUnavailable(f"{python} {tool} failed with rc {proc.returncode}: {err}{hint}")
        with open(dump) as f:
            entries = json.load(f)
    return proc.stdout, entries


def compare_summary(entries, threshold=COMPARE_THRESHOLD):
    """{'faster': [(name, change)], 'slower': [...], 'same': n, 'geomean': change or None} from
    compare.py's dump; change = (new - old) / old of the real time (< 0: faster now). With
    repetitions only the median aggregate of a case counts."""
    out = {"faster": [], "slower": [], "same": 0, "geomean": None}
    for e in entries:
        m = (e.get("measurements") or [{}])[0]
        if e.get("name") == "OVERALL_GEOMEAN":
            out["geomean"] = m.get("time")
            continue
        if e.get("run_type") == "aggregate" and e.get("aggregate_name") != "median":
            continue
        change = m.get("time")
        if change is None:
            continue
        name = SUFFIXES.sub("", re.sub(r"_median$", "", e["name"]))
        if change < -threshold:
            out["faster"].append((name, change))
        elif change > threshold:
            out["slower"].append((name, change))
        else:
            out["same"] += 1
    out["faster"].sort(key=lambda x: x[1])
    out["slower"].sort(key=lambda x: -x[1])
    return out


def compare_section(previous, current, root):
    """The report's 'Compared with the previous run' section (markdown)."""
    lines = ["## Compared with the previous run", ""]
    try:
        with open(previous) as f:
            prev_ctx = json.load(f).get("context", {})
    except (OSError, ValueError) as e:
        return "\n".join(lines + [f"_comparison skipped: {previous} unreadable ({e})_", ""])
    with open(current) as f:
        cur_ctx = json.load(f).get("context", {})
    a, b = data_stamp(prev_ctx, None, root), data_stamp(cur_ctx, None, root)
    lines.append(f"- **previous** (`{os.path.basename(previous)}`): {a['line']}")
    lines.append(f"- **this run**: {b['line']}")
    if a["host"] != b["host"]:
        lines.append("- _different machines: the changes below are not the code's alone_")
    lines.append("")
    try:
        text, entries = run_compare(previous, current)
    except CompareUnavailable as e:
        return "\n".join(lines + [f"_comparison skipped: {e}_", ""])
    summ = compare_summary(entries)
    pct = lambda x: f"{x * 100:+.1f}%"  # noqa: E731
    lines.append(f"Google Benchmark's `compare.py` (time change = (this - previous) / previous; negative is "
                 f"faster now): {len(summ['faster'])} case(s) faster by more than {COMPARE_THRESHOLD:.0%}, "
                 f"{len(summ['slower'])} slower, {summ['same']} within +-{COMPARE_THRESHOLD:.0%}"
                 + (f"; geometric mean of the time ratios {pct(summ['geomean'])}" if summ["geomean"] is not None
                    else "") + ". Read single cases on a noisy machine with care.")
    lines.append("")
    top = [[f"`{n}`", pct(c), "slower"] for n, c in summ["slower"][:8]] + \
          [[f"`{n}`", pct(c), "faster"] for n, c in summ["faster"][:8]]
    if top:
        lines.append(md_table(["case", "time change", "now"], top))
        lines.append("")
    lines.append("<details><summary>compare.py output</summary>\n")
    lines.append("```")
    lines.append(text.rstrip())
    lines.append("```")
    lines.append("\n</details>\n")
    return "\n".join(lines)


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
    # The transfer pipeline against sim's link model (issue 12).
    link = sim_link_table(ok)
    if link:
        lines.append("\n" + link)
    small = sim_small_table(ok)
    if small:
        lines.append("\n" + small)
    # Overlap: blocking against non-blocking conversions in a data loader's loop (issue 15).
    overlap = overlap_table(ok)
    if overlap:
        lines.append("\n" + overlap)
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


SIM_LINK_TARGET = 0.9


def sim_link_table(ok):
    """sim/link/* rows (issue 12): the transfer pipeline under sim's link model, its efficiency
    (the slowest stage of the best plan / the conversion's time) per link setting, path and size,
    with the target >= SIM_LINK_TARGET from 16 MiB on."""
    sl = [r for r in ok if r["path"].startswith("sim/link/") and r.get("efficiency") is not None]
    if not sl:
        return ""
    sizes = sorted({r["axes"].get("bytes", "?") for r in sl}, key=lambda b: size_bytes(b) or 0)
    by = {}
    for r in sl:
        by.setdefault(r["path"], {})[r["axes"].get("bytes", "?")] = r
    settings = {"slow": 0, "matched": 1, "fast": 2}
    judged = ("slow", "fast")  # "matched": neither regime of the issue (bench/link_settings.h)
    body = []
    for path, cells in sorted(by.items(), key=lambda kv: (settings.get(kv[0].split("/")[2], 9), kv[0])):
        row = [f"`{path}`"]
        big = []
        for b in sizes:
            r = cells.get(b)
            if not r:
                row.append("-")
                continue
            bound = r.get("label", "").partition("bound:")[2].split(" ")[0] or "?"
            row.append(f"{r['efficiency']:.2f} ({bound})")
            if (size_bytes(b) or 0) >= 16 << 20:
                big.append(r["efficiency"])
        if path.split("/")[2] not in judged:
            row.append("no target")
        else:
            row.append("-" if not big else ("meets" if min(big) >= SIM_LINK_TARGET else f"misses ({min(big):.2f})"))
        body.append(row)
    return ("**The transfer pipeline against sim's link model** (`sim/link/`, issue 12; \"slow\": pinned "
            "2 GB/s each way, slower than every host-side stage here, sim's device cast included; \"matched\": "
            "4 GB/s, slower than this machine's host copies but about as fast as sim's uint8->float32 device cast, "
            "which runs on a host thread, so neither regime and no target; \"fast\": 100 GB/s, faster than host "
            "staging; 5 us per copy, 2 copy engines; efficiency = the slowest stage of the best plan / the conversion's time, "
            "medians; in brackets the stage that bounds it: the modelled link for the bytes that must cross it, "
            "the host staging timed alone beside each conversion (H2D: the pipeline's own fill without the copies; "
            "D2H: a memcpy of the drain's chunks out of a ring of the pipeline's size), or sim's "
            "device cast, which runs on a host thread; target >= "
            f"{SIM_LINK_TARGET:g} from 16 MiB on):\n\n"
            + md_table(["case"] + sizes + ["target (from 16 MiB)"], body))


def sim_small_table(ok):
    """sim/small/* rows (issue 12's small-copy targets on sim): the time per tensor of small
    conversions against sim's own pinned copy_async + synchronize under the same link model,
    timed in the same iterations; the case carries its target (2x for one 4 KiB tensor, 1.5x per
    tensor for many)."""
    sm = [r for r in ok if r["path"].startswith("sim/small/") and r.get("ratio") is not None]
    if not sm:
        return ""
    body = []
    for r in sorted(sm, key=lambda r: (int(r["axes"].get("count", "1")), r["axes"].get("mode", ""), r["path"])):
        target = r.get("target")
        verdict = "-" if target is None else ("meets" if r["ratio"] <= target else "misses")
        body.append([f"`{r['path']}`", r["axes"].get("mode", "?"), r["axes"].get("count", "1"),
                     r["axes"].get("bytes", "?"), fmt_num(r.get("us_per_tensor")),
                     fmt_num(r.get("pinned_copy_us_per_tensor")), fmt_ratio(r["ratio"]),
                     f"<= {target:g}x" if target is not None else "-", verdict])
    return ("**Small conversions against sim's pinned copy** (`sim/small/`, issue 12's small-copy targets on sim; "
            "link: the \"fast\" setting, 5 us per copy; per tensor, medians; the pinned copy is copy_async of the same "
            "bytes from pinned memory + a synchronize, timed in the same iterations (for many tensors: all the copies "
            "queued, one synchronize); blocking conversions each wait for their copy, non-blocking ones (XFER-4) are "
            "synchronized once after the last):\n\n"
            + md_table(["case", "mode", "tensors", "size", "us per tensor", "pinned copy us per tensor", "ratio",
                        "target", "verdict"], body))


def overlap_table(ok):
    """overlap/* rows (issue 15): a data loader's loop of k batches, blocking against
    non-blocking as_tensor (with a prefetch bound, and unbounded), per batch, against the bound
    max(copy, kernel, staging) per batch: the issue's target is k batches in <= 1.1 x k x bound
    (OVERLAP_TARGET)."""
    ov = [r for r in ok if r["family"] == "overlap" and r.get("per_batch_ms") is not None]
    if not ov:
        return ""
    by = {}
    for r in ov:
        key = (r["path"].rsplit("/mode:", 1)[0] if "/mode:" in r["path"] else r["path"], r["axes"].get("bytes", "?"))
        by.setdefault(key, {})[r["axes"].get("mode", "?")] = r

    def vs_bound(r):
        return r["per_batch_ms"] / r["bound_ms"] if r and r.get("bound_ms") else None

    def verdict(v):
        return "-" if v is None else ("meets" if v <= OVERLAP_TARGET else "misses")

    body = []
    prefetch = "?"
    for (path, size), modes in sorted(by.items(), key=lambda kv: (kv[0][0], size_bytes(kv[0][1]) or 0)):
        b, n, u = modes.get("blocking"), modes.get("non_blocking"), modes.get("non_blocking_unbounded")
        ref = n or u or b
        if n and isinstance(n.get("prefetch"), (int, float)):
            prefetch = f"{n['prefetch']:g}"
        k = ref.get("batches")
        body.append([f"`{path}`", size, f"{k:g}" if isinstance(k, (int, float)) else "?",
                     fmt_num(ref.get("kernel_ms")), fmt_num(ref.get("link_ms")), fmt_num(ref.get("bound_ms")),
                     fmt_num(b["per_batch_ms"]) if b else "-",
                     fmt_num(n["per_batch_ms"]) if n else "-", fmt_ratio(vs_bound(n)), verdict(vs_bound(n)),
                     fmt_num(u["per_batch_ms"]) if u else "-", fmt_ratio(vs_bound(u)), verdict(vs_bound(u)),
                     fmt_ratio(b["per_batch_ms"] / n["per_batch_ms"]) if b and n else "-"])
    return ("**Overlap: convert batch i+1 while a kernel runs on batch i** (`overlap/`, issue 15; k batches "
            "after a warm-up pass, each followed by a kernel of the batch's link time; sim: its link modelled, "
            "the kernel a queued pause; per batch = the loop's time / k; bound = max(copy, kernel, staging) per "
            f"batch; vs bound = the loop's time / (k x bound), target <= {OVERLAP_TARGET:g} (the pipeline's fill, "
            f"one copy and one kernel, is inside it); non-blocking keeps {prefetch} batches in flight, as a "
            "loader's prefetch queue does; unbounded stages every batch ahead of the device, which on sim "
            "competes with sim's own copy and kernel threads for the host's cores; lower is better):\n\n"
            + md_table(["case", "size", "k", "kernel ms", "link ms", "bound ms", "blocking ms/batch",
                        f"non-blocking (prefetch {prefetch}) ms/batch", "vs bound", "target",
                        "non-blocking unbounded ms/batch", "vs bound", "target", "speedup vs blocking"], body))


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


OVERLAP_TARGET = 1.1


SIM_OVERLAP_NOTE = (
    "\nOn sim, the fastest repeat is a check on the median: on this 2-core machine sim's copy engine (a host "
    "thread that does the memcpy and then sleeps until the copy's modelled end) can share a core with the "
    "caller and wake up to 0.8 ms late. Before each stream kept a modelled clock (an operation starts when the one "
    "before it ended in modelled time, so a late thread catches up), whole repeats ran 15-25% slower that way "
    "and the 16 MiB median swung between 1.06x and 1.27x of the bound from run to run; a median well above "
    "the fastest repeat means that split is back.\n")


def python_overlap_table(overlap):
    """bench/overlap.py's rows (peers.json "overlap", issue 15): per batch times of blocking and
    non-blocking as_tensor and torch's best practice in a loop of k batches, against the bound
    max(copy, kernel) per batch, with the issue's target for non-blocking (ratio <= 1.1)."""
    if not overlap or not overlap.get("rows"):
        return ""
    target = overlap.get("target_ratio", OVERLAP_TARGET)
    ms = lambda x: fmt_num(x)  # noqa: E731
    body = []
    for r in overlap["rows"]:
        size = _fmt_bytes(r["bytes"]) if r.get("bytes") else "?"
        if r.get("status") != "ok":
            body.append([f"`{r.get('device', '?')}`", size, r.get("status", "?")] + ["-"] * 10)
            continue
        m = r["modes"]
        cell = lambda mode: ms(m[mode]["per_batch_ms"]) if "per_batch_ms" in m.get(mode, {}) else _status(m.get(mode, {}))  # noqa: E731
        nb = m.get("non_blocking", {})
        ratio = nb.get("ratio")
        verdict = "-" if ratio is None else ("meets" if ratio <= target else "misses")
        body.append([f"`{r['device']}`", size,
                     f"{ms(r.get('bound_ms'))} ({ms(r.get('copy_ms'))} / {ms(r.get('kernel_ms'))})",
                     f"{ms(r.get('copy_only_ms'))} / {ms(r.get('kernel_only_ms'))}",
                     cell("blocking"), cell("non_blocking"), cell("torch"),
                     fmt_ratio(ratio), verdict,
                     f"{ms(nb['best_ms'])} ({fmt_ratio(nb.get('ratio_best'))})" if "best_ms" in nb else "-",
                     fmt_ratio(nb.get("ratio_measured")),
                     fmt_ratio(r.get("speedup_vs_blocking")), fmt_ratio(r.get("speedup_vs_torch"))])
    k, link = overlap.get("k", "?"), overlap.get("link", "?")
    return (f"**Overlap from Python: convert batch i+1 while a kernel runs on batch i** (`bench/overlap.py`, "
            f"issue 15; k = {k} float32 batches from pageable numpy arrays, {overlap.get('reps', '?')} interleaved "
            f"repeats, medians; per batch = the loop's time / k; bound = max(copy, kernel) per batch: on sim the "
            f"modelled copy (link `{link}`) and the kernel a queued pause of that time, on CUDA the pinned copy "
            f"and a `torch.cuda._sleep` spin measured in the same run; ratio = non-blocking per batch / bound, "
            f"target <= {target:g} (judged on the median); best repeat = the fastest repeat of non-blocking "
            f"and its ratio; measured stages = each stage alone (k non-blocking conversions, k kernels), "
            f"and the ratio against their max; torch = `torch.from_numpy(a).pin_memory().to(dev, "
            f"non_blocking=True)` on a copy stream):\n\n"
            + md_table(["device", "batch", "bound ms (copy / kernel)", "measured stages ms (copy / kernel)",
                        "blocking ms/batch", "non-blocking ms/batch", "torch ms/batch", "ratio", "target",
                        "best repeat ms (ratio)", "ratio vs measured stages", "speedup vs blocking",
                        "speedup vs torch"], body)
            + (SIM_OVERLAP_NOTE if any(r.get("device") == "sim" and r.get("status") == "ok" for r in overlap["rows"])
               else ""))


# --- plots ------------------------------------------------------------------------------------------

HIGHER_FASTER = "higher is faster"


def transfer_panel(r):
    """The panel of a cuda/ case in transfer_throughput.png: 'same' (same dtype, contiguous,
    with the memcpy baselines), 'cast' (H2D dtype conversions), 'gather' (H2D strided
    sources), 'd2h'; None for the cases plotted elsewhere (many small tensors, cold call)."""
    p = r["path"].split("/")
    if len(p) < 3 or p[0] != "cuda" or "many_small" in p or "cold" in p:
        return None
    if p[1] == "d2h":
        return "d2h"
    if p[2].startswith("memcpy"):
        return "same"
    pair, layout = (p[3] if len(p) > 3 else ""), (p[4] if len(p) > 4 else "contig")
    if layout != "contig":
        return "gather"
    src, _, dst = pair.partition("_")
    return "same" if src == dst else "cast"


def link_gbps(r):
    """GB/s of link bytes (the bytes that must cross the link: bench/README.md) by the case's
    own (event) time, the unit of the pinned copy limit limit_GBps."""
    if r.get("link_bytes") and r.get("time_s"):
        return r["link_bytes"] / r["time_s"] / 1e9
    return r["bytes_per_second"] / 1e9


def make_plots(rows, out_dir, stamp, info=None):
    """Writes the PNGs; returns (file names, note). `info`, when given, receives per file
    the panels as {title: {"series": [labels], "limit": [labels], "ylabel": text,
    "legend_outside": bool}} (for the tests)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:
        return [], f"plots skipped: matplotlib not importable ({e})"
    ok = [r for r in rows if not r["error"] and size_bytes(r["axes"].get("bytes"))]
    made = []
    info = {} if info is None else info

    def series(pred):
        s = defaultdict(list)
        for r in ok:
            if pred(r):
                label = case_key({**r, "axes": {k: v for k, v in r["axes"].items() if k != "bytes"}})
                s[(label, r["impl"])].append(r)
        for v in s.values():
            v.sort(key=lambda r: size_bytes(r["axes"]["bytes"]))
        return s

    def plot(fname, title, groups, ylabel, metric, limit_of=None, limit_label="measured limit", limit_per_impl=True):
        """One panel per group, stacked, each with its legend to the right, outside the data.
        The limit is drawn per implementation (their thread counts differ) or, with
        limit_per_impl=False, once (a limit of the machine that every case shares)."""
        groups = [g for g in groups if series(g[1])]
        n = len(groups)
        if n == 0:
            return
        fig, axs = plt.subplots(n, 1, figsize=(12, 3.8 * n + 0.8), squeeze=False)
        panels = info.setdefault(fname, {})
        for ax, (gtitle, pred) in zip(axs.flat, groups):
            s = series(pred)
            limit_pts = defaultdict(dict)  # impl -> {bytes: limit}
            labels = list(dict.fromkeys(label for label, _ in s))
            panel = panels.setdefault(gtitle, {"series": [], "limit": [], "ylabel": f"{ylabel} ({HIGHER_FASTER})"})
            for (label, impl), pts in s.items():
                xs = [size_bytes(r["axes"]["bytes"]) for r in pts]
                ys = [metric(r) for r in pts]
                style = "--s" if impl == "reference" else "-o"
                # Only the family is dropped: h2d and d2h, src:pinned and src:pageable stay apart.
                short = label.split("/", 1)[-1]
                text = f"{short} [{impl}]"
                ax.plot(xs, ys, style, label=text, markersize=4, color=f"C{labels.index(label) % 10}")
                panel["series"].append(text)
                if limit_of:
                    for r in pts:
                        lim = limit_of(r)
                        if lim:
                            b = size_bytes(r["axes"]["bytes"])
                            key = impl if limit_per_impl else ""
                            limit_pts[key][b] = max(limit_pts[key].get(b, 0), lim)
            for k, (impl, pts) in enumerate(sorted(limit_pts.items())):
                xs = sorted(pts)
                text = f"{limit_label} [{impl}]" if impl else limit_label
                ax.plot(xs, [pts[x] for x in xs], ":" if k == 0 else "-.", color="black", linewidth=2, label=text)
                panel["limit"].append(text)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("size (bytes of source)")
            ax.set_ylabel(panel["ylabel"], fontsize=9)
            ax.set_title(gtitle, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        fig.tight_layout()
        # Above the panels (the saved box grows to hold it), never over the first one.
        fig.suptitle(f"{title}\n{stamp}", fontsize=9, y=1.0, va="bottom")
        fig.canvas.draw()
        for ax, (gtitle, _) in zip(axs.flat, groups):
            # Outside the data: the legend starts right of the axes' box.
            panels[gtitle]["legend_outside"] = (ax.get_legend().get_window_extent().x0
                                                >= ax.get_window_extent().x1)
        fig.savefig(os.path.join(out_dir, fname), dpi=90, bbox_inches="tight")
        plt.close(fig)
        made.append(fname)

    gbps = lambda r: r["bytes_per_second"] / 1e9  # noqa: E731
    # The limit in the case's own units: bytes_per_second / roofline (roofline = achieved/limit).
    limit_src = lambda r: (r["bytes_per_second"] / 1e9 / r["roofline"]) if r.get("roofline") else None  # noqa: E731

    plot("copy_throughput.png", "Host copies: memcpy baselines and as_tensor(copy=True), float32",
         [("memcpy (1 and N threads; reused vs fresh output)", lambda r: r["path"] == "cpu/memcpy"),
          ("as_tensor copy float32 (alloc:system)", lambda r: r["path"].startswith("cpu/copy") and r["axes"].get("alloc") == "system"),
          ("as_tensor copy float32 contig: alloc:system vs alloc:retain", lambda r: r["path"] == "cpu/copy/float32/contig")],
         "GB/s of source bytes", gbps, limit_of=lambda r: limit_src(r) if r["path"] != "cpu/memcpy" else None,
         limit_label="memcpy limit, same threads")
    pairs = sorted({r["path"].split("/")[1] for r in ok if r["family"] == "cast"})
    plot("cast_throughput.png", "Casts to a new host tensor (source GB/s); limit = memcpy of (src+dst)/2 bytes",
         [(f"cast {p}", (lambda p: lambda r: r["family"] == "cast" and r["path"].split("/")[1] == p)(p)) for p in pairs],
         "GB/s of source bytes", gbps, limit_of=limit_src, limit_label="memcpy limit, same threads")
    if any(r["family"] == "cuda" for r in ok):
        plot("transfer_throughput.png",
             "Host <-> CUDA transfers: GB/s of link bytes (the narrower dtype's bytes) by event time; "
             "limit = the pinned cudaMemcpyAsync peak, same units",
             [("H2D, same dtype, contiguous (with the memcpy baselines)", lambda r: transfer_panel(r) == "same"),
              ("H2D casts, contiguous", lambda r: transfer_panel(r) == "cast"),
              ("H2D gathers and other layouts of the source", lambda r: transfer_panel(r) == "gather"),
              ("D2H (device -> host)", lambda r: transfer_panel(r) == "d2h")],
             "GB/s of link bytes", link_gbps,
             limit_of=lambda r: r.get("limit_GBps"), limit_label="pinned copy limit (T1), link GB/s",
             limit_per_impl=False)
    if any(r["family"] == "sim" for r in ok):
        sim_plain = lambda r, d: r["path"].startswith(f"sim/{d}/") and "/cold/" not in r["path"]  # noqa: E731
        plot("sim_throughput.png", "Host <-> sim transfers (GB/s of source bytes)",
             [("sim h2d (host -> sim)", lambda r: sim_plain(r, "h2d")),
              ("sim d2h (sim -> host)", lambda r: sim_plain(r, "d2h")),
              ("sim with the link model (sim/link/<setting>/h2d|d2h)", lambda r: r["path"].startswith("sim/link/")),
              ("staging host side only (sim/stage); limit = memcpy, same threads",
               lambda r: r["path"].startswith("sim/stage"))],
             "GB/s of source bytes", gbps, limit_of=limit_src)
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
    ax.set_ylabel("median time per call (us, log; lower is faster)")
    ax.set_title(f"Python peers: as_tensor vs torch vs numpy (lower is better)\n{stamp}", fontsize=9)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "peers.png"), dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "peers.png"


def generate(bench_path, peers_path, out_dir, root, previous=None, plot_info=None):
    os.makedirs(out_dir, exist_ok=True)
    ctx, rows = load_bench(bench_path) if bench_path and os.path.exists(bench_path) else ({}, [])
    peers = None
    if peers_path and os.path.exists(peers_path):
        with open(peers_path) as f:
            peers = json.load(f)
    st = data_stamp(ctx, peers, root)
    stamp = st["line"]

    plots, plot_note = make_plots(rows, out_dir, stamp, plot_info)
    if peers:
        p = peers_plot(peers, out_dir, stamp)
        if p:
            plots.append(p)

    title = "# astensor: as_tensor performance report"
    if st["smoke"]:
        title += " (SMOKE RUN: ci/bench --quick, tiny sizes; not a measurement)"
    md = [title, ""]
    md.append(f"Measured on **{st['host']}**, {st['date']}, commit `{st['commit']}` (from the benchmark "
              "data's context, not from the machine that rendered this report).")
    md.append("")
    md.append(f"- **Machine**: {st['machine']}")
    md.append(f"- **GPU**: {st['gpu']}")
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
    if previous and bench_path:
        md.append(compare_section(previous, bench_path, root))
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
                ("CUDA (`cuda/`)", "cuda/"), ("Overlap (`overlap/`, issue 15)", "overlap/")]
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
        overlap = python_overlap_table(peers.get("overlap"))
        if overlap:
            md.append(overlap)
            md.append("")
    path = os.path.join(out_dir, "REPORT.md")
    with open(path, "w") as f:
        f.write("\n".join(md).rstrip() + "\n")
    return path, plots


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", help="bench_as_tensor --benchmark_format=json output")
    ap.add_argument("--peers", help="bench/peers.py --out output")
    ap.add_argument("--previous", help="a previous run's bench_as_tensor JSON: the report compares against it")
    ap.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                    help="only print Google Benchmark's comparison of two bench_as_tensor JSON files")
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="the git checkout to stamp")
    args = ap.parse_args(argv)
    if args.compare:
        try:
            text, entries = run_compare(*args.compare)
        except CompareUnavailable as e:
            print(f"reports/generate.py: {e}", file=sys.stderr)
            return 3
        summ = compare_summary(entries)
        print(text.rstrip())
        print(f"\nsummary: {len(summ['faster'])} faster by more than {COMPARE_THRESHOLD:.0%}, "
              f"{len(summ['slower'])} slower, {summ['same']} within"
              + (f"; geomean time change {summ['geomean'] * 100:+.1f}%" if summ["geomean"] is not None else ""))
        return 0
    if not args.bench and not args.peers:
        ap.error("give --bench and/or --peers (or --compare OLD NEW)")
    path, plots = generate(args.bench, args.peers, args.out_dir, args.root, previous=args.previous)
    print(f"reports/generate.py: wrote {path} and {len(plots)} plot(s): {', '.join(plots)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
