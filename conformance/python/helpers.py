"""Assertion helpers: every failure names the call and prints a copy-paste reproduction."""

from __future__ import annotations

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
