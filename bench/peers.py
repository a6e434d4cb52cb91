#!/usr/bin/env python3
"""bench/peers.py: astensor vs torch.as_tensor vs NumPy at the Python level, in one process.

Cases (research/perf-anchors.md 4.2, C1 C3 C4 C2): the zero-copy call, flat lists of floats
and ints (1e3 and 1e6), a nested 1000x1000 list, a list of 1000 ndarrays of 1000 float64,
and casts float64->float32 and uint8->float32 at a few sizes. Each (case, column) is timed as
batches of calls, the columns interleaved within every repeat so that a noisy neighbour hits
them all alike; the figure is the median per-call time over the repeats.

Columns: numpy, torch, astensor (astensor.as_tensor: the optimized implementation) and
astensor.reference (astensor.reference.as_tensor). When the astensor module cannot be
imported, its columns say "not built" with the import error, and the rest still runs.

Then the overlap rows (bench/overlap.py: a loop of k batches converted while a kernel runs,
blocking vs non-blocking as_tensor vs torch's pinned best practice; --no-overlap skips them),
stored under "overlap" in the JSON.

Output: a table on stdout and JSON (--out) that reports/generate.py reads.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import warnings

# OpenBLAS settings of this machine (see the environment notes) slow a current numpy. Only
# the BLAS is affected and no case here calls it, but they are dropped inside this process so
# that nothing numpy loads runs a degraded kernel; the values are recorded in the JSON.
_UNSET_ENV = {k: os.environ.pop(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402

    TORCH_STATUS = "ok"
except Exception as e:  # pragma: no cover - depends on the venv
    torch = None
    TORCH_STATUS = f"not importable: {type(e).__name__}: {e}"

try:
    import astensor  # noqa: E402

    ASTENSOR_STATUS = "ok"
    try:
        import astensor.reference as astensor_reference  # noqa: E402

        REFERENCE_STATUS = "ok"
    except Exception as e:
        astensor_reference = getattr(astensor, "reference", None)
        REFERENCE_STATUS = "ok" if astensor_reference is not None else f"not built: {type(e).__name__}: {e}"
except Exception as e:
    astensor = None
    astensor_reference = None
    ASTENSOR_STATUS = f"not built: {type(e).__name__}: {e}"
    REFERENCE_STATUS = ASTENSOR_STATUS

COLUMNS = ("numpy", "torch", "astensor", "astensor.reference")


def _column_status():
    return {
        "numpy": "ok",
        "torch": TORCH_STATUS,
        "astensor": ASTENSOR_STATUS,
        "astensor.reference": REFERENCE_STATUS,
    }


def _as_dtype(module, name):
    return getattr(module, name) if module is not None else None


def make_cases(quick: bool):
    """Returns [(case_name, group, numel, out_bytes, {column: callable})]."""
    cases = []
    at = astensor.as_tensor if astensor is not None and ASTENSOR_STATUS == "ok" else None
    ref = astensor_reference.as_tensor if astensor_reference is not None and REFERENCE_STATUS == "ok" else None

    def cols(np_fn, torch_fn, at_fn, ref_fn):
        return {"numpy": np_fn, "torch": torch_fn if torch is not None else None, "astensor": at_fn, "astensor.reference": ref_fn}

    # C1: zero-copy (the array already has the dtype and device): size must not matter.
    for n in ((256, 1 << 16) if quick else (256, 1 << 24)):
        x = np.zeros(n, dtype=np.float32)  # calloc'd: sharing never touches the pages
        cases.append((f"zero_copy/float32/n:{n}", "zero_copy", n, 0, cols(
            lambda x=x: np.asarray(x),
            lambda x=x: torch.as_tensor(x),
            (lambda x=x: at(x)) if at else None,
            (lambda x=x: ref(x)) if ref else None)))

    f32 = _as_dtype(astensor, "float32")
    i64 = _as_dtype(astensor, "int64")
    # C3: Python lists. numpy is asked for the dtype torch and astensor infer (float32 for
    # floats, int64 for ints) so every column produces the same bytes.
    for n in ((1000,) if quick else (1000, 1_000_000)):
        floats = [i * 0.25 for i in range(n)]
        cases.append((f"list/float/n:{n}", "list", n, 4 * n, cols(
            lambda v=floats: np.asarray(v, dtype=np.float32),
            lambda v=floats: torch.as_tensor(v),
            (lambda v=floats: at(v)) if at else None,
            (lambda v=floats: ref(v)) if ref else None)))
        ints = list(range(n))
        cases.append((f"list/int/n:{n}", "list", n, 8 * n, cols(
            lambda v=ints: np.asarray(v, dtype=np.int64),
            lambda v=ints: torch.as_tensor(v),
            (lambda v=ints: at(v)) if at else None,
            (lambda v=ints: ref(v)) if ref else None)))
    side = 32 if quick else 1000
    nested = [[(r + c) * 0.25 for c in range(side)] for r in range(side)]
    cases.append((f"list/nested_float/shape:{side}x{side}", "list", side * side, 4 * side * side, cols(
        lambda v=nested: np.asarray(v, dtype=np.float32),
        lambda v=nested: torch.as_tensor(v),
        (lambda v=nested: at(v)) if at else None,
        (lambda v=nested: ref(v)) if ref else None)))
    nested_ints = [[r * side + c for c in range(side)] for r in range(side)]
    cases.append((f"list/nested_int/shape:{side}x{side}", "list", side * side, 8 * side * side, cols(
        lambda v=nested_ints: np.asarray(v, dtype=np.int64),
        lambda v=nested_ints: torch.as_tensor(v),
        (lambda v=nested_ints: at(v)) if at else None,
        (lambda v=nested_ints: ref(v)) if ref else None)))

    # C4: a list of ndarrays (torch's slow path, numpy's memcpy path).
    count, length = (10, 100) if quick else (1000, 1000)
    arrays = [np.full(length, i * 0.5, dtype=np.float64) for i in range(count)]
    cases.append((f"list_of_ndarrays/float64/count:{count}/len:{length}", "list_of_ndarrays", count * length,
                  8 * count * length, cols(
                      lambda v=arrays: np.asarray(v),
                      lambda v=arrays: torch.as_tensor(v),
                      (lambda v=arrays: at(v)) if at else None,
                      (lambda v=arrays: ref(v)) if ref else None)))

    # C2: casts of arrays (new output memory every call, as as_tensor returns new memory:
    # NumPy's and torch's large outputs are fresh pages, astensor's come from its cache of
    # freed outputs, impl/cpu/NOTES.md "The cache limit"). 64 MiB is the smallest size of the
    # issue 5 target; the reference's column is left out there (seconds per call).
    sizes = (1 << 12, 1 << 16) if quick else (1 << 16, 1 << 20, 1 << 24, 1 << 26)
    for src, dst in (("float64", "float32"), ("uint8", "float32")):
        for nbytes in sizes:
            n = nbytes // np.dtype(src).itemsize
            x = (np.arange(n) % 251).astype(src)
            td = getattr(torch, dst) if torch is not None else None
            ad = _as_dtype(astensor, dst)
            cases.append((f"cast/{src}_{dst}/bytes:{nbytes}", "cast", n, n * np.dtype(dst).itemsize, cols(
                lambda x=x, d=dst: x.astype(d),
                lambda x=x, d=td: torch.as_tensor(x, dtype=d),
                (lambda x=x, d=ad: at(x, dtype=d)) if at else None,
                (lambda x=x, d=ad: ref(x, dtype=d)) if ref and nbytes < (1 << 26) else None)))
    # The strided gathers of the target: every other column of a uint8 image (a[:, ::2]) and
    # the transpose of a float64 matrix, both cast to float32 (source bytes = bytes used).
    h, w = (32, 32) if quick else (4096, 4096)  # 1 KiB / 16 MiB used
    img = (np.arange(h * 2 * w) % 251).astype(np.uint8).reshape(h, 2 * w)
    gathers = [("uint8_float32/every_other", img[:, ::2])]
    # transpose_gather: a[:, ::2].T, a transposed source that is NOT dense, so the copy is
    # C-contiguous and gathers down the columns (impl/cpu's tiled path). "transpose" below
    # is a dense a.T, which TEN-3 copies in its own order as one contiguous run.
    gathers.append(("uint8_float32/transpose_gather", img[:, ::2].T))
    h, w = (32, 16) if quick else (2048, 1024)  # 4 KiB / 16 MiB
    f64 = (np.arange(h * w) % 251).astype(np.float64).reshape(h, w)
    gathers.append(("float64_float32/transpose", f64.T))
    f64w = (np.arange(h * 2 * w) % 251).astype(np.float64).reshape(h, 2 * w)
    gathers.append(("float64_float32/transpose_gather", f64w[:, ::2].T))
    for what, x in gathers:
        n = x.size
        td = torch.float32 if torch is not None else None
        ad = _as_dtype(astensor, "float32")
        cases.append((f"cast/{what}/bytes:{n * x.itemsize}", "cast", n, 4 * n, cols(
            lambda x=x: x.astype(np.float32),
            lambda x=x, d=td: torch.as_tensor(x, dtype=d),
            (lambda x=x, d=ad: at(x, dtype=d)) if at else None,
            (lambda x=x, d=ad: ref(x, dtype=d)) if ref else None)))
    del f32, i64
    return cases


def _batch(fn, number):
    t0 = time.perf_counter_ns()
    for _ in range(number):
        fn()
    return (time.perf_counter_ns() - t0) / 1e9 / number


def run(quick: bool, reps: int, batch_s: float):
    status = _column_status()
    results = []
    warnings.simplefilter("ignore")  # torch warns that lists of ndarrays are slow: we know
    cases = list(make_cases(quick))
    t_start = time.perf_counter()
    for index, (name, group, numel, out_bytes, fns) in enumerate(cases):
        entry = {"case": name, "group": group, "numel": numel, "out_bytes": out_bytes, "results": {}}
        live = {}
        for col in COLUMNS:
            fn = fns.get(col)
            if fn is None:
                entry["results"][col] = {"status": status[col] if status[col] != "ok" else "not run"}
                continue
            try:
                fn()  # warm up, and find out whether the column works at all
            except Exception as e:
                entry["results"][col] = {"status": f"error: {type(e).__name__}: {e}"}
                continue
            # Calls per batch: enough for batch_s, at least one.
            t = _batch(fn, 1)
            number = max(1, int(batch_s / max(t, 1e-9)))
            live[col] = (fn, number)
            entry["results"][col] = {"status": "ok", "number": number, "times_s": []}
        gc.disable()
        try:
            for rep in range(reps):
                order = list(live)
                k = rep % len(order) if order else 0
                for col in order[k:] + order[:k]:  # rotate who goes first
                    fn, number = live[col]
                    entry["results"][col]["times_s"].append(_batch(fn, number))
        finally:
            gc.enable()
        for col in live:
            r = entry["results"][col]
            med = statistics.median(r["times_s"])
            r["median_s"] = med
            r["ns_per_elem"] = med * 1e9 / numel if numel else None
            r["out_GBps"] = out_bytes / med / 1e9 if out_bytes else None
        med = {c: entry["results"][c].get("median_s") for c in COLUMNS}
        ratios = {}
        for a, b in (("astensor", "numpy"), ("astensor", "torch"), ("astensor.reference", "numpy"),
                     ("astensor.reference", "torch"), ("torch", "numpy"), ("astensor", "astensor.reference")):
            if med.get(a) and med.get(b):
                ratios[f"{a}/{b}"] = med[a] / med[b]  # time ratio: < 1 means a is faster
        entry["time_ratios"] = ratios
        results.append(entry)
        # [i/N] and the time left at the mean rate per case so far (an estimate).
        done = index + 1
        left = (time.perf_counter() - t_start) / done * (len(cases) - done)
        print(f"[{done}/{len(cases)} ~{left:.0f}s left] ", end="")
        _print_row(entry)
    return results


def _fmt_time(s):
    if s is None:
        return "-"
    for unit, f in (("s", 1), ("ms", 1e3), ("us", 1e6), ("ns", 1e9)):
        if s * f >= 1:
            return f"{s * f:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def _print_row(e):
    cells = []
    for c in COLUMNS:
        r = e["results"][c]
        cells.append(f"{c}={_fmt_time(r['median_s'])}" if "median_s" in r else f"{c}=[{r['status'][:40]}]")
    ratio = " ".join(f"{k}={v:.2f}" for k, v in e["time_ratios"].items())
    print(f"{e['case']:<48} " + "  ".join(cells) + (f"  | {ratio}" if ratio else ""), flush=True)


def context(quick: bool = False):
    ctx = {
        "host": platform.node(),
        "quick": quick,
        # The commit the run measures, when the caller (ci/bench) says so.
        "commit": os.environ.get("ASTENSOR_COMMIT") or None,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": getattr(torch, "__version__", None),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "astensor": ASTENSOR_STATUS if ASTENSOR_STATUS != "ok" else getattr(astensor, "__version__", "ok"),
        "astensor_file": getattr(astensor, "__file__", None),
        "columns": _column_status(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "unset_env": _UNSET_ENV,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return ctx


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, few repeats (CI smoke run)")
    ap.add_argument("--reps", type=int, default=None, help="repeats per case (default 7, quick 3)")
    ap.add_argument("--batch-ms", type=float, default=None, help="time per batch (default 20 ms, quick 2 ms)")
    ap.add_argument("--out", help="write the JSON here")
    ap.add_argument("--no-overlap", action="store_true", help="skip the overlap rows (bench/overlap.py)")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch intra-op threads (default 1, like numpy: on a shared 2-core machine "
                         "torch's OpenMP pool stalls for milliseconds whenever the other core is busy)")
    args = ap.parse_args(argv)
    if torch is not None and args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    reps = args.reps or (3 if args.quick else 7)
    batch_s = (args.batch_ms or (2.0 if args.quick else 20.0)) / 1e3
    ctx = context(args.quick)
    for col, st in ctx["columns"].items():
        if st != "ok":
            print(f"peers: column {col}: {st}", flush=True)
    results = run(args.quick, reps, batch_s)
    doc = {"context": ctx, "reps": reps, "batch_s": batch_s, "cases": results}
    if not args.no_overlap:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import overlap

        print("overlap (bench/overlap.py):", flush=True)
        doc["overlap"] = overlap.run(args.quick, log=lambda line: print(line, flush=True))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
