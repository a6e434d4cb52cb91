"""Tests of reports/generate.py on synthetic benchmark output (run by ci/stages/30-bench-quick)."""

import json
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
