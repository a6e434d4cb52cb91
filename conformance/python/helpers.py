"""Assertion helpers: every failure names the call and prints a copy-paste reproduction."""

from __future__ import annotations

import ctypes
import gc
import os
import weakref

import numpy as np

from adapters import numpy_dtype


def repro(impl, data, **kw) -> str:
    args = ", ".join([_r(data)] + [f"{k}={_r(v)}" for k, v in kw.items()])
    fn = {"reference": "astensor.reference.as_tensor", "impl": "astensor.as_tensor",
          "torch": "torch.as_tensor"}.get(impl.name, impl.name)
    return f"\n  reproduce: import numpy as np, astensor; {fn}({args})"


def _r(x) -> str:
    if isinstance(x, np.ndarray):
        flags = "" if x.flags.writeable else " (read-only)"
        return (f"np.lib.stride_tricks.as_strided(np.array({x.tolist()!r}, dtype={str(x.dtype)!r}),"
                f" strides={x.strides})  # shape {x.shape}{flags}")
    return repr(x)


def native(a: np.ndarray) -> np.ndarray:
    """a in native byte order (values unchanged)."""
    if a.dtype.byteorder == ">":
        return a.astype(a.dtype.newbyteorder("="))
    return a


def assert_values_equal(got: np.ndarray, expected: np.ndarray, msg: str = ""):
    """Same shape and the same values; NaNs equal; signed zeros equal."""
    expected = native(np.asarray(expected))
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}{msg}"
    if got.dtype != expected.dtype:
        expected = expected.astype(got.dtype)
    if got.dtype.kind in "fc" or got.dtype == numpy_dtype("bfloat16"):
        g = got.astype(np.complex128)
        e = expected.astype(np.complex128)
        same = (g == e) | (np.isnan(g) & np.isnan(e))
        assert same.all(), f"values differ:\n got {got!r}\n expected {expected!r}{msg}"
    else:
        assert np.array_equal(got, expected), f"values differ:\n got {got!r}\n expected {expected!r}{msg}"


def bits(a: np.ndarray) -> bytes:
    """The values' bytes in row-major order (for bit-for-bit comparisons, XFER-3)."""
    return np.ascontiguousarray(a).tobytes()


def data_start(a: np.ndarray) -> int:
    """Address of element [0, ..., 0] of an array."""
    return a.__array_interface__["data"][0]


def assert_lifetime(make_producer, convert, *, kept: bool = True, check=None, what: str = ""):
    """ARR-2: `convert(producer)` keeps the producer alive exactly as long as the result lives
    (kept=True; a shared source), or holds no reference to it at all (kept=False; a copy), and
    the producer is released exactly once. make_producer() must return a new weak-referenceable
    object that nobody else holds (this helper drops its own reference to see who else keeps
    it); check(result), if given, must return True while the result is alive and its producer
    gone from every other place (the result's values, for instance)."""
    released = []
    p = make_producer()
    weakref.finalize(p, released.append, 1)
    t = convert(p)
    del p
    gc.collect()
    if kept:
        assert released == [], f"{what}: the producer was released while the result lives"
    else:
        assert released == [1], f"{what}: a copy still holds its source"
    if check is not None:
        assert check(t), f"{what}: check failed on the result once the producer was dropped"
    del t
    gc.collect()
    assert released == [1], f"{what}: the producer was released {len(released)} times, not once"


def _asan_allocated_bytes():
    """ASan's count of live heap bytes, or None when the ASan runtime is not loaded."""
    try:
        fn = ctypes.CDLL(None).__sanitizer_get_current_allocated_bytes
    except (AttributeError, OSError):
        return None
    fn.restype = ctypes.c_size_t
    return fn


def under_asan() -> bool:
    """True when the process runs with the AddressSanitizer runtime (ci/stages/25-python-asan)."""
    return _asan_allocated_bytes() is not None


def memory_in_use() -> int:
    """Bytes of memory the process holds, for growth checks: the live heap bytes ASan counts
    when its runtime is loaded (ASan keeps freed blocks in a quarantine, so resident memory
    grows under it without any leak), else the resident set size."""
    fn = _asan_allocated_bytes()
    if fn is not None:
        return int(fn())
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
