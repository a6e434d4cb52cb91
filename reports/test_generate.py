"""Tests of reports/generate.py on synthetic benchmark output (run by ci/stages/30-bench-quick)."""

import json
import subprocess
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generate  # noqa: E402


def test_parse_name_splits_family_path_and_axes():
    fam, path, axes = generate.parse_name(
        "cast/float64_float32/contig/impl:reference/alloc:system/bytes:4KiB/real_time")
    assert fam == "cast"
    assert path == "cast/float64_float32/contig"
    assert axes == {"impl": "reference", "alloc": "system", "bytes": "4KiB"}
    fam, path, axes = generate.parse_name(
        "cuda/h2d/cold/as_tensor/float32_float32/contig/src:pageable/impl:optimized/bytes:1MiB"
        "/iterations:1/repeats:1/manual_time")
    assert fam == "cuda" and axes["impl"] == "optimized" and axes["bytes"] == "1MiB"
    assert "iterations" not in axes and "repeats" not in axes


def test_size_bytes():
    assert generate.size_bytes("4KiB") == 4096
    assert generate.size_bytes("256MiB") == 256 << 20
    assert generate.size_bytes("1GiB") == 1 << 30
    assert generate.size_bytes("12") == 12
    assert generate.size_bytes("n:3") is None


def _run(name, ns, impl_label, roofline=0.5, **extra):
    r = {"name": name, "run_name": name, "run_type": "iteration", "real_time": ns, "time_unit": "ns",
         "bytes_per_second": 1e9, "elems_per_s": 2.5e8, "roofline": roofline, "limit_GBps": 2.0,
         "threads": 1, "faults_per_iter": 0.0, "label": impl_label}
    r.update(extra)
    return r


def _bench_doc():
    return {
        "context": {"astensor_impls": "reference and optimized", "astensor_cuda_build": "yes",
                    "astensor_cuda_devices": "0 (none)", "astensor_max_bytes": "4096"},
        "benchmarks": [
            _run("cpu/memcpy/threads:1/out:reused/bytes:4KiB/real_time", 100, "baseline out:reused", 1.0),
            _run("cast/float64_float32/contig/impl:reference/alloc:system/bytes:4KiB/real_time", 4000,
                 "reference out:reused"),
            _run("cast/float64_float32/contig/impl:optimized/alloc:system/bytes:4KiB/real_time", 1000,
                 "optimized out:fresh"),
            # a repeated case: only its median aggregate counts
            _run("seq/float/flat/impl:reference/n:1000/real_time", 999999, "reference out:reused"),
            dict(_run("seq/float/flat/impl:reference/n:1000/real_time", 50000, "reference out:reused"),
                 run_type="aggregate", aggregate_name="median"),
            dict(_run("seq/float/flat/impl:reference/n:1000/real_time", 1, "reference out:reused"),
                 run_type="aggregate", aggregate_name="mean"),
            {"name": "cuda/h2d/memcpy_pinned/bytes:4KiB/manual_time",
             "run_name": "cuda/h2d/memcpy_pinned/bytes:4KiB/manual_time", "run_type": "iteration",
             "error_occurred": True, "error_message": "no CUDA device: test", "real_time": 0, "time_unit": "ns"},
        ],
    }


def test_load_bench_prefers_median_and_keeps_errors(tmp_path):
    p = tmp_path / "b.json"
    p.write_text(json.dumps(_bench_doc()))
    ctx, rows = generate.load_bench(str(p))
    seq = [r for r in rows if r["family"] == "seq"]
    assert len(seq) == 1 and abs(seq[0]["time_s"] - 50e-6) < 1e-12
    cuda = [r for r in rows if r["family"] == "cuda"]
    assert cuda and cuda[0]["error"] == "no CUDA device: test"
    opt = [r for r in rows if r["impl"] == "optimized"]
    assert opt[0]["out"] == "fresh"


def test_sim_link_table_gives_efficiency_per_size_and_judges_from_16_mib(tmp_path):
    runs = []
    for path, effs in (("sim/link/fast/h2d/float32_float32/contig", {"1MiB": 0.2, "16MiB": 0.8, "64MiB": 1.04}),
                       ("sim/link/slow/h2d/float32_float32/contig", {"1MiB": 0.77, "16MiB": 0.96, "64MiB": 0.99}),
                       ("sim/link/slow/h2d/uint8_float32/contig", {"16MiB": 0.6}),
                       ("sim/link/matched/h2d/uint8_float32/contig", {"16MiB": 0.7})):
        for size, eff in effs.items():
            bound = "kernel" if "uint8" in path else "link"
            runs.append(_run(f"{path}/impl:optimized/alloc:system/bytes:{size}/iterations:9/manual_time", 1e6,
                             f"optimized bound:{bound}", efficiency=eff))
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"context": {}, "benchmarks": runs}))
    _, rows = generate.load_bench(str(p))
    table = generate.sim_link_table([r for r in rows if not r["error"]])
    lines = [ln for ln in table.splitlines() if ln.startswith("| `sim/link/")]
    assert [ln.split("|")[1].strip() for ln in lines] == [  # slow, matched, fast
        "`sim/link/slow/h2d/float32_float32/contig`", "`sim/link/slow/h2d/uint8_float32/contig`",
        "`sim/link/matched/h2d/uint8_float32/contig`", "`sim/link/fast/h2d/float32_float32/contig`"]
    cells = [[c.strip() for c in ln.split("|")[2:-1]] for ln in lines]
    # columns: 1MiB 16MiB 64MiB target; the 1 MiB cell is shown but not judged
    assert cells[0] == ["0.77 (link)", "0.96 (link)", "0.99 (link)", "meets"]
    assert cells[1] == ["-", "0.60 (kernel)", "-", "misses (0.60)"]
    assert cells[2] == ["-", "0.70 (kernel)", "-", "no target"]  # neither regime: shown, not judged
    assert cells[3] == ["0.20 (link)", "0.80 (link)", "1.04 (link)", "misses (0.80)"]
    assert "target >= 0.9 from 16 MiB" in table
    assert generate.sim_link_table([]) == ""


def test_sim_small_table_holds_each_case_to_its_own_target(tmp_path):
    runs = []
    for mode, count, size, conv, pinned, target in (("blocking", 1, "4KiB", 6.9, 5.8, 2),
                                                    ("blocking", 100, "64KiB", 15.3, 6.0, 1.5),
                                                    ("non_blocking", 100, "64KiB", 7.5, 6.0, 1.5)):
        name = (f"sim/small/fast/h2d/float32_float32/mode:{mode}/impl:optimized/count:{count}/bytes:{size}"
                "/manual_time")
        runs.append(_run(name, conv * 1e3 * count, f"optimized {mode} vs pinned copy_async + synchronize",
                         us_per_tensor=conv, pinned_copy_us_per_tensor=pinned, ratio=conv / pinned, target=target))
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"context": {}, "benchmarks": runs}))
    _, rows = generate.load_bench(str(p))
    table = generate.sim_small_table([r for r in rows if not r["error"]])
    cells = [[c.strip() for c in ln.split("|")[1:-1]] for ln in table.splitlines() if ln.startswith("| `sim/small/")]
    # columns: case mode tensors size us pinned ratio target verdict; one tensor first, then by mode
    assert [c[1:4] for c in cells] == [["blocking", "1", "4KiB"], ["blocking", "100", "64KiB"],
                                       ["non_blocking", "100", "64KiB"]]
    assert cells[0][6:] == ["1.19x", "<= 2x", "meets"], cells[0]
    assert cells[1][6:] == ["2.55x", "<= 1.5x", "misses"], cells[1]
    assert cells[2][6:] == ["1.25x", "<= 1.5x", "meets"], cells[2]
    assert generate.sim_small_table([]) == ""


def test_overlap_table_holds_non_blocking_against_the_bound_and_the_target(tmp_path):
    runs = []
    for size, bound, per_batch in (("4MiB", 1.0, {"blocking": 2.2, "non_blocking": 1.06, "non_blocking_unbounded": 1.25}),
                                   ("16MiB", 4.2, {"blocking": 8.6, "non_blocking": 4.41, "non_blocking_unbounded": 4.7})):
        for mode, pb in per_batch.items():
            name = (f"overlap/sim/h2d/float32_float32/mode:{mode}/impl:optimized/alloc:system/bytes:{size}"
                    "/iterations:5/manual_time")
            runs.append(_run(name, pb * 1e6 * 32, f"optimized {mode}", per_batch_ms=pb, bound_ms=bound,
                             kernel_ms=bound, link_ms=bound, batches=32, vs_bound=pb / bound,
                             prefetch=3 if mode == "non_blocking" else 32))
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"context": {}, "benchmarks": runs}))
    _, rows = generate.load_bench(str(p))
    table = generate.overlap_table([r for r in rows if not r["error"]])
    assert "prefetch 3" in table
    cells = {line.split("|")[2].strip(): [c.strip() for c in line.split("|")[1:-1]]
             for line in table.splitlines() if line.startswith("| `overlap/")}
    # columns: case size k kernel link bound blocking | nb vs target | unbounded vs target | speedup
    four, sixteen = cells["4MiB"], cells["16MiB"]
    assert four[2] == "32" and four[6] == "2.2"
    assert four[8:10] == ["1.06x", "meets"] and four[11:13] == ["1.25x", "misses"], four
    assert sixteen[8:10] == ["1.05x", "meets"] and sixteen[11:13] == ["1.12x", "misses"], sixteen
    assert four[13] == "2.08x", four  # speedup: 2.2 / 1.06


def test_report_pairs_impls_and_lists_skips(tmp_path):
    p = tmp_path / "b.json"
    p.write_text(json.dumps(_bench_doc()))
    peers = {"context": {"columns": {"numpy": "ok", "torch": "ok", "astensor": "not built: X",
                                     "astensor.reference": "not built: X"}},
             "reps": 3,
             "cases": [{"case": "list/float/n:1000", "group": "list", "numel": 1000, "out_bytes": 4000,
                        "results": {"numpy": {"status": "ok", "median_s": 2e-5, "ns_per_elem": 20.0},
                                    "torch": {"status": "ok", "median_s": 1e-4, "ns_per_elem": 100.0},
                                    "astensor": {"status": "not built: X"},
                                    "astensor.reference": {"status": "not built: X"}},
                        "time_ratios": {"torch/numpy": 5.0}}]}
    pp = tmp_path / "p.json"
    pp.write_text(json.dumps(peers))
    out = tmp_path / "out"
    path, plots = generate.generate(str(p), str(pp), str(out), os.path.dirname(os.path.abspath(__file__)))
    text = open(path).read()
    assert "The numbers later issues must move" in text
    # optimized/reference speedup of the cast: 4000 ns / 1000 ns
    assert "4.00x" in text
    assert "1 case(s) skipped: no CUDA device: test" in text
    assert "not built" in text
    for png in plots:
        assert os.path.getsize(out / png) > 1000


def test_staging_and_cold_headlines(tmp_path):
    doc = _bench_doc()
    doc["benchmarks"] += [
        _run("sim/stage/float64_float32/contig/impl:optimized/alloc:system/bytes:16MiB/real_time", 5e6,
             "optimized out:none", roofline=0.91, threads=2),
        # measured interleaved with memcpy: that ratio wins over the roofline counter
        _run("sim/stage/float64_float32/contig/impl:optimized/alloc:system/bytes:64MiB/manual_time", 2e7,
             "optimized out:none", roofline=0.3, threads=2, ratio_interleaved=0.62, memcpy_interleaved_GBps=4.5),
        dict(_run("sim/h2d/cold/float32_float32/contig/impl:optimized/alloc:system/bytes:1MiB/manual_time", 9e6,
                  "optimized cold:first-sim-call"), cold_ms=9.0, warm_ms=1.5, setup_ms=7.5),
    ]
    p = tmp_path / "b.json"
    p.write_text(json.dumps(doc))
    ctx, rows = generate.load_bench(str(p))
    ok = [r for r in rows if not r["error"]]
    table = generate.staging_table(ok)
    assert "0.91x" in table and "meets" in table
    assert "0.62x" in table and "below" in table and "0.30x" not in table and "4.5" in table
    assert table.index("16MiB") < table.index("64MiB")
    cold = generate.cold_table(ok)
    assert "7.5" in cold and "meets" in cold
    path, _ = generate.generate(str(p), None, str(tmp_path / "out"), os.path.dirname(os.path.abspath(__file__)))
    text = open(path).read()
    assert "Staging pipeline, host side vs memcpy" in text and "Cold first call" in text


def test_staging_headline_says_when_not_measured():
    assert "not measured" in generate.staging_table([])
    assert generate.cold_table([]) == ""


# --- issue 13: the report and the bench read at a glance ----------------------------------------

HERE = os.path.dirname(os.path.abspath(__file__))
GPU_RUN = os.path.join(HERE, "gpu", "20261204-run1", "bench-cuda.json")


def test_stamp_comes_from_the_data_not_the_rendering_machine(tmp_path):
    path, _ = generate.generate(GPU_RUN, None, str(tmp_path), HERE)
    text = open(path).read()
    head = text[:1500]
    # The H200 run's context: host "vm", 16 CPUs at 2100 MHz, its date and caches.
    assert "Measured on **vm**, 2026-12-04 18:42 UTC" in head
    assert "16 CPUs at 2100 MHz" in head and "L3 300 MiB (shared by 16)" in head
    assert "1 device(s)" in head
    # That run recorded no commit: the report says so instead of stamping this checkout's.
    assert "not recorded in the data" in head
    if os.cpu_count() != 16:
        assert f"{os.cpu_count()} CPUs" not in head and f"{os.cpu_count()} cores" not in head
    assert "SMOKE RUN" not in head


def test_commit_gpu_and_smoke_come_from_the_context(tmp_path):
    doc = _bench_doc()
    doc["context"].update({"host_name": "gpu-box", "date": "2030-01-02T03:04:05+00:00", "num_cpus": 64,
                           "astensor_commit": "0123456789ab", "astensor_cpu_model": "Some CPU 9000",
                           "astensor_cuda_device": "NVIDIA H200, sm_90, 139 GiB", "astensor_run": "smoke"})
    p = tmp_path / "b.json"
    p.write_text(json.dumps(doc))
    path, _ = generate.generate(str(p), None, str(tmp_path / "out"), HERE)
    lines = open(path).read().splitlines()
    assert lines[0].startswith("# ") and "SMOKE RUN" in lines[0]
    head = "\n".join(lines[:8])
    assert "Measured on **gpu-box**, 2030-01-02 03:04 UTC, commit `0123456789ab`" in head
    assert "Some CPU 9000, 64 CPUs" in head and "NVIDIA H200, sm_90" in head
    doc["context"]["astensor_run"] = "full"
    p.write_text(json.dumps(doc))
    path, _ = generate.generate(str(p), None, str(tmp_path / "out2"), HERE)
    assert "SMOKE RUN" not in open(path).read().splitlines()[0]


def test_transfer_plot_panels_in_link_units(tmp_path):
    info = {}
    _, plots = generate.generate(GPU_RUN, None, str(tmp_path), HERE, plot_info=info)
    assert "transfer_throughput.png" in plots and os.path.getsize(tmp_path / "transfer_throughput.png") > 10000
    panels = info["transfer_throughput.png"]
    titles = list(panels)
    assert len(titles) == 4
    assert [t.split(",")[0].split(" (")[0] for t in titles] == ["H2D", "H2D casts", "H2D gathers and other layouts of the source".split(",")[0], "D2H"]
    same, casts, gathers, d2h = (panels[t]["series"] for t in titles)
    assert any("memcpy_pinned" in s for s in same) and all("float32_float32" in s or "memcpy" in s for s in same)
    assert casts and all("float32_float32" not in s for s in casts)
    assert gathers and all("/contig" not in s for s in gathers)
    assert d2h and all(s.startswith("d2h/") for s in d2h)
    for t in titles:
        assert panels[t]["limit"] == ["pinned copy limit (T1), link GB/s"]
        assert "link bytes" in panels[t]["ylabel"] and "higher is faster" in panels[t]["ylabel"]
        assert panels[t]["legend_outside"], t
    # Same units: the bars' link GB/s at the roofline's definition, and the pinned memcpy
    # baseline at its best size reaches the drawn limit.
    _, rows = generate.load_bench(GPU_RUN)
    ok = [r for r in rows if not r["error"] and generate.transfer_panel(r)]
    for r in ok:
        assert abs(generate.link_gbps(r) - r["roofline"] * r["limit_GBps"]) <= 0.02 * generate.link_gbps(r), r["name"]
    pinned = [r for r in ok if r["path"] == "cuda/h2d/memcpy_pinned"]
    assert abs(max(generate.link_gbps(r) for r in pinned) / pinned[0]["limit_GBps"] - 1) < 0.05


def test_sim_plot_labels_h2d_and_d2h_apart_and_legends_outside(tmp_path):
    doc = _bench_doc()
    for d in ("h2d", "d2h"):
        for b in ("4KiB", "64KiB"):
            doc["benchmarks"].append(_run(f"sim/{d}/float32_float32/contig/impl:optimized/alloc:system/bytes:{b}/real_time",
                                          1000, "optimized"))
    p = tmp_path / "b.json"
    p.write_text(json.dumps(doc))
    info = {}
    generate.generate(str(p), None, str(tmp_path / "out"), HERE, plot_info=info)
    panels = info["sim_throughput.png"]
    h2d = [s for t in panels for s in panels[t]["series"] if s.startswith("h2d/")]
    d2h = [s for t in panels for s in panels[t]["series"] if s.startswith("d2h/")]
    assert h2d and d2h and not set(h2d) & set(d2h)
    for fname, ps in info.items():
        for t, panel in ps.items():
            assert "higher is faster" in panel["ylabel"], (fname, t)
            assert panel["legend_outside"], (fname, t)


def _have_compare():
    try:
        generate.find_compare()
    except generate.CompareUnavailable:
        return False
    return subprocess.run([generate.sys.executable if not os.path.exists("/usr/bin/python3") else "/usr/bin/python3",
                           "-c", "import scipy"], capture_output=True).returncode == 0


def test_compare_summary_counts_medians_only():
    entries = [
        {"name": "a/bytes:4KiB/real_time", "run_type": "", "measurements": [{"time": -0.5}]},
        {"name": "b/real_time_median", "run_type": "aggregate", "aggregate_name": "median", "measurements": [{"time": 0.3}]},
        {"name": "b/real_time_mean", "run_type": "aggregate", "aggregate_name": "mean", "measurements": [{"time": 9.0}]},
        {"name": "c", "run_type": "", "measurements": [{"time": 0.01}]},
        {"name": "OVERALL_GEOMEAN", "run_type": "aggregate", "measurements": [{"time": -0.1}]},
    ]
    s = generate.compare_summary(entries)
    assert s["faster"] == [("a/bytes:4KiB", -0.5)] and s["slower"] == [("b", 0.3)] and s["same"] == 1
    assert s["geomean"] == -0.1


def test_report_says_when_the_compare_tool_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTENSOR_BENCH_COMPARE", str(tmp_path / "no-compare.py"))
    p = tmp_path / "b.json"
    p.write_text(json.dumps(_bench_doc()))
    path, _ = generate.generate(str(p), None, str(tmp_path / "out"), HERE, previous=str(p))
    text = open(path).read()
    assert "## Compared with the previous run" in text
    assert "comparison skipped" in text and "libbenchmark-tools" in text
    r = subprocess.run([os.path.join(os.path.dirname(HERE), "ci", "bench"), "--compare", str(p), str(p)],
                       capture_output=True, text=True, env={**os.environ, "ASTENSOR_VENV": ""})
    assert r.returncode == 3 and "libbenchmark-tools" in r.stderr


def test_report_shows_the_comparison_with_the_previous_run(tmp_path):
    if not _have_compare():
        import pytest
        pytest.skip("Google Benchmark's compare.py (libbenchmark-tools + python3-scipy) is not installed")
    old = _bench_doc()
    new = _bench_doc()
    for r in new["benchmarks"]:
        if r["name"].startswith("cast/float64_float32/contig/impl:optimized"):
            r["real_time"] *= 3  # 3x slower now
            r["cpu_time"] = r["real_time"]
    for d in (old, new):
        for r in d["benchmarks"]:
            r.setdefault("cpu_time", r["real_time"])
            r.setdefault("iterations", 1)
            r.setdefault("repetitions", 1)
            r.setdefault("threads", 1)
    po, pn = tmp_path / "old.json", tmp_path / "new.json"
    po.write_text(json.dumps(old))
    pn.write_text(json.dumps(new))
    path, _ = generate.generate(str(pn), None, str(tmp_path / "out"), HERE, previous=str(po))
    text = open(path).read()
    sec = text[text.index("## Compared with the previous run"):text.index("## The numbers later issues must move")]
    assert "1 slower" in sec and "+200.0%" in sec and "cast/float64_float32/contig/impl:optimized" in sec
    assert "compare.py output" in sec


def test_progress_prefix_counts_cases_and_estimates_time_left():
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bench"))
    import progress
    now = [0.0]
    pr = progress.Progress(["a/bytes:4KiB/real_time", "b/bytes:4KiB/real_time", "c/bytes:16MiB/real_time"],
                           clock=lambda: now[0])
    now[0] = 10.0
    assert pr.prefix("----------------------\n") == ""
    # a done after 10 s with weight ~1 of ~4 in all: ~30 s left
    assert pr.prefix("a/bytes:4KiB/real_time   100 ns  100 ns  1000\n") == "[1/3 ~30s left] "
    assert pr.prefix("a/bytes:4KiB/real_time_mean   100 ns\n") == ""  # the same case's aggregate
    now[0] = 20.0
    assert pr.prefix("b/bytes:4KiB/real_time_median   100 ns\n") == "[2/3 ~20s left] "
    assert progress.fmt_left(3725) == "1h02m" and progress.fmt_left(75) == "1m15s"


# --- issue 15: the overlap rows of the Python bench (bench/overlap.py) ----------------------------

def _overlap_section():
    """An "overlap" section as bench/overlap.py writes it: its own _finish fills the ok rows from
    per-repeat times (seconds per batch), so a change of its schema breaks this test."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bench"))
    import overlap

    def row(device, nbytes, copy_ms, kernel_ms, times):
        r = {"device": device, "bytes": nbytes, "modes": {}, "status": "ok", "copy_ms": copy_ms,
             "kernel_ms": kernel_ms, "bound_ms": max(copy_ms, kernel_ms)}
        if "torch" not in times:
            r["modes"]["torch"] = {"status": "not run: needs CUDA"}
        return overlap._finish(r, {m: [t * 1e-3 for t in ts] for m, ts in times.items()}, 24)

    rows = [
        # 4 MiB: non-blocking 1.5 ms against a bound of 1.0 ms: 1.50x, misses
        row("sim", 4 << 20, 1.0, 1.0, {"blocking": [2.1, 2.2, 2.0], "non_blocking": [1.5, 1.6, 1.4],
                                       "copy_only": [1.3, 1.3, 1.3], "kernel_only": [1.1, 1.1, 1.1]}),
        # 16 MiB: 4.3 ms against 4.0 ms: 1.07x, meets; torch ran (a CUDA-like row)
        row("cuda", 16 << 20, 4.0, 3.9, {"blocking": [8.0], "non_blocking": [4.3], "torch": [5.16],
                                         "copy_only": [4.1], "kernel_only": [3.9]}),
        {"device": "cuda", "bytes": 4 << 20, "modes": {},
         "status": "not run: no CUDA device (torch.cuda.is_available() is False)"},
    ]
    return {"k": 24, "reps": 3, "target_ratio": 1.1, "link": overlap.LINK_SLOW, "rows": rows}


def test_python_overlap_table_reports_ratios_speedups_and_the_target():
    ov = _overlap_section()
    sim, cuda, absent = ov["rows"]
    assert sim["meets_target"] is False and cuda["meets_target"] is True
    assert abs(sim["measured_bound_ms"] - 1.3) < 1e-9 and "copy_only" not in sim["modes"]
    table = generate.python_overlap_table(ov)
    lines = [ln for ln in table.splitlines() if ln.startswith("| `")]
    assert len(lines) == 3
    sim_line, cuda_line, absent_line = lines
    cells = [c.strip() for c in sim_line.strip("|").split("|")]
    assert cells[:2] == ["`sim`", "4 MiB"]
    assert cells[2] == "1 (1 / 1)" and cells[3] == "1.3 / 1.1"
    assert cells[4:7] == ["2.1", "1.5", "not run: needs CUDA"]
    assert cells[7:] == ["1.50x", "misses", "1.4 (1.40x)", "1.15x", "1.40x", "-"]
    cells = [c.strip() for c in cuda_line.strip("|").split("|")]
    assert cells[4:7] == ["8", "4.3", "5.16"]
    assert cells[7:] == ["1.07x", "meets", "4.3 (1.07x)", "1.05x", "1.86x", "1.20x"]
    assert "not run: no CUDA device" in absent_line and absent_line.count("| - ") == 10
    # The best repeat is shown beside the median; the verdict stays on the median.
    nb = sim["modes"]["non_blocking"]
    assert abs(nb["best_ms"] - 1.4) < 1e-9 and abs(nb["ratio_best"] - 1.4) < 1e-9 and abs(nb["ratio"] - 1.5) < 1e-9
    assert "modelled clock" in table  # a sim row says what its fastest repeat checks
    assert "k = 24" in table and "pinned=4GB/s" in table and "target <= 1.1" in table
    assert generate.python_overlap_table(None) == "" and generate.python_overlap_table({"rows": []}) == ""


def test_report_puts_the_python_overlap_table_after_the_peers_table(tmp_path):
    peers = {"context": {"columns": {"numpy": "ok", "torch": "ok", "astensor": "ok", "astensor.reference": "ok"}},
             "reps": 3, "cases": [], "overlap": _overlap_section()}
    pp = tmp_path / "p.json"
    pp.write_text(json.dumps(peers))
    path, _ = generate.generate(None, str(pp), str(tmp_path / "out"), HERE)
    text = open(path).read()
    peers_at = text.index("## Python peers (`bench/peers.py`)")
    at = text.index("**Overlap from Python")
    assert at > peers_at and text.index("| `sim` | 4 MiB |") > at
    # A peers.json from before the overlap rows renders without the table.
    del peers["overlap"]
    pp.write_text(json.dumps(peers))
    path, _ = generate.generate(None, str(pp), str(tmp_path / "out2"), HERE)
    assert "Overlap from Python" not in open(path).read()
