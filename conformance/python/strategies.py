"""Hypothesis strategies for the conformance harness (tested themselves in
test_strategies.py: each produces what it claims)."""

from __future__ import annotations

import array as pyarray

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from adapters import DTYPE_NAMES, ml_dtypes, numpy_dtype

#: dtypes NumPy has natively (bfloat16 comes from ml_dtypes)
NATIVE_NAMES = [n for n in DTYPE_NAMES if n != "bfloat16"]
ALL_NAMES = DTYPE_NAMES if ml_dtypes is not None else NATIVE_NAMES

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def dtype_names(names=None):
    return st.sampled_from(list(names or ALL_NAMES))


@st.composite
def numpy_dtypes(draw, names=None, byteorders=("=", ">")):
    """A supported NumPy dtype, in native or swapped byte order (ARR-4)."""
    name = draw(dtype_names(names))
    dt = numpy_dtype(name)
    order = draw(st.sampled_from(byteorders))
    if order == ">" and dt.itemsize > 1 and name != "bfloat16":
        dt = dt.newbyteorder(">")
    return dt


def _elements_for(dt: np.dtype):
    # Finite values keep comparisons simple; NaN / inf get their own tests.
    if dt.kind == "f" or (ml_dtypes is not None and dt == np.dtype(ml_dtypes.bfloat16)):
        return {"allow_nan": False, "allow_infinity": False}
    if dt.kind == "c":
        return {"allow_nan": False, "allow_infinity": False}
    return None


@st.composite
def arrays(draw, dtypes=None, shape=shapes):
    """A C-contiguous NumPy array of any supported dtype (both byte orders) and shape,
    including 0-d and zero-size."""
    dt = draw(dtypes if dtypes is not None else numpy_dtypes())
    shp = draw(shape)
    if ml_dtypes is not None and dt == np.dtype(ml_dtypes.bfloat16):
        base = draw(hnp.arrays(np.float32, shp, elements=st.floats(-1e4, 1e4, width=32)))
        return base.astype(dt)
    native = dt.newbyteorder("=")
    a = draw(hnp.arrays(native, shp, elements=_elements_for(native)))
    return a.astype(dt)


@st.composite
def views(draw, base=None):
    """Views from basic indexing of an array: offsets, steps, negative steps, new axes,
    transposes, broadcasts (stride 0), 0-d and zero-size results."""
    a = draw(base if base is not None else arrays())
    if a.ndim > 0 and draw(st.booleans()):
        idx = draw(hnp.basic_indices(a.shape, min_dims=0, allow_newaxis=True))
        idx = idx if isinstance(idx, tuple) else (idx,)
        if Ellipsis not in idx:
            idx = idx + (Ellipsis,)  # keeps the result an array view (never a NumPy scalar)
        a = a[idx]
    if a.ndim > 0 and draw(st.booleans()):
        flips = tuple(slice(None, None, -1) if draw(st.booleans()) else slice(None)
                      for _ in range(a.ndim))
        a = a[flips]
    if a.ndim > 1 and draw(st.booleans()):
        a = a.transpose(draw(st.permutations(range(a.ndim))))
    if draw(st.integers(0, 4)) == 0:
        a = np.broadcast_to(a, (draw(st.integers(0, 3)),) + a.shape)
    return a


@st.composite
def readonly_arrays(draw, base=None):
    a = draw(base if base is not None else views())
    a = a.view()
    a.flags.writeable = False
    return a


# --- Python data -------------------------------------------------------------------------------

py_bools = st.booleans()
py_ints = st.integers(-(2**63), 2**63 - 1)
py_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
py_complex = st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=1e30)


@st.composite
def numpy_scalars(draw, names=None):
    """NumPy scalars (np.generic) of supported dtypes (SEQ-1, SEQ-3)."""
    dt = draw(numpy_dtypes(names=names or NATIVE_NAMES, byteorders=("=",)))
    return draw(arrays(dtypes=st.just(dt), shape=st.just(())))[()]


def scalar_leaves(kinds=("bool", "int", "float", "complex", "numpy")):
    options = {"bool": py_bools, "int": py_ints, "float": py_floats, "complex": py_complex,
               "numpy": numpy_scalars()}
    return st.one_of(*[options[k] for k in kinds])


def _to_nested(values, shape, draw, tuples: bool):
    if not shape:
        return values.pop(0)
    out = [_to_nested(values, shape[1:], draw, tuples) for _ in range(shape[0])]
    if tuples and draw(st.booleans()):
        return tuple(out)
    return out


@st.composite
def nested_sequences(draw, leaves=None, shape=small_shapes, tuples=True):
    """A rectangular nested list/tuple of scalar leaves (mixed Python kinds and NumPy
    scalars), with its shape. Returns (data, shape)."""
    shp = draw(shape)
    if len(shp) == 0:
        shp = (draw(st.integers(0, 3)),)
    if 0 in shp:  # a zero-length list cannot show the dims below it
        shp = shp[:shp.index(0) + 1]
    n = int(np.prod(shp))
    vals = draw(st.lists(leaves if leaves is not None else scalar_leaves(), min_size=n, max_size=n))
    return _to_nested(list(vals), tuple(shp), draw, tuples), tuple(shp)


@st.composite
def nested_from_arrays(draw):
    """Nested Python lists made from a NumPy array with tolist() (SEQ-2), with the array."""
    a = draw(arrays(dtypes=numpy_dtypes(names=NATIVE_NAMES, byteorders=("=",)),
                    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)))
    return a.tolist(), a


@st.composite
def ragged_sequences(draw):
    """A nested list where one inner list has a different length (SEQ-2 ValueError)."""
    # min_side=2: the changed list always has a sibling of the original length
    data, shape = draw(nested_sequences(leaves=py_ints, tuples=False,
                                        shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=2,
                                                               max_side=3)))
    # pick an inner list (depth >= 1) and change its length
    path = [draw(st.integers(0, shape[0] - 1))]
    node = data[path[0]]
    depth = draw(st.integers(1, len(shape) - 1))
    for d in range(1, depth):
        i = draw(st.integers(0, shape[d] - 1))
        node = node[i]
    if draw(st.booleans()) or len(node) == 0:
        node.append(node[0] if node else 0)
    else:
        node.pop()
    return data


@st.composite
def bad_sequences(draw):
    """A nested list with a non-numeric leaf (str, None, dict, object) somewhere (SEQ-6)."""
    data, shape = draw(nested_sequences(leaves=py_ints, tuples=False,
                                        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1,
                                                               max_side=3)))
    bad = draw(st.sampled_from(["x", None, {}, object(), b"b"]))
    node = data
    for d in range(len(shape) - 1):
        node = node[draw(st.integers(0, shape[d] - 1))]
    node[draw(st.integers(0, shape[-1] - 1))] = bad
    return data


# --- buffers and DLPack producers ------------------------------------------------------------

_ARRAY_CODES = {"b": "int8", "B": "uint8", "h": "int16", "H": "uint16", "i": "int32",
                "I": "uint32", "l": "int64", "L": "uint64", "q": "int64", "Q": "uint64",
                "f": "float32", "d": "float64"}


@st.composite
def buffer_objects(draw):
    """(object, expected dtype name, expected values) for memoryview, array.array, bytearray."""
    kind = draw(st.sampled_from(["array", "bytearray", "memoryview"]))
    if kind == "array":
        code = draw(st.sampled_from(sorted(_ARRAY_CODES)))
        dt = np.dtype(_ARRAY_CODES[code])
        vals = draw(hnp.arrays(dt, draw(st.integers(0, 6)), elements=_elements_for(dt)))
        obj = pyarray.array(code, vals.tolist())
        return obj, _ARRAY_CODES[code], np.array(vals)
    if kind == "bytearray":
        raw = draw(st.binary(max_size=8))
        return bytearray(raw), "uint8", np.frombuffer(raw, np.uint8).copy()
    a = draw(views(arrays(dtypes=numpy_dtypes(names=[n for n in NATIVE_NAMES]),
                          shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))))
    # memoryview needs a buffer NumPy can export: no stride-0 broadcast problems, any strides
    return memoryview(a), a.dtype.newbyteorder("=").name, np.array(a)


class DLPackOnly:
    """An object that speaks only DLPack (no buffer, no __array_interface__)."""

    def __init__(self, inner):
        self._inner = inner

    def __dlpack__(self, **kw):
        return self._inner.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._inner.__dlpack_device__()


class LegacyDLPackOnly(DLPackOnly):
    """A producer older than DLPack 1.0: no max_version keyword (TypeError), legacy capsule."""

    def __dlpack__(self, stream=None):
        return self._inner.__dlpack__()


@st.composite
def dlpack_producers(draw):
    """(producer, values) where producer exposes __dlpack__: NumPy arrays (versioned),
    legacy-only wrappers, and torch tensors when torch is installed."""
    a = draw(views(arrays(dtypes=numpy_dtypes(names=NATIVE_NAMES, byteorders=("=",)))))
    kind = draw(st.sampled_from(["numpy", "legacy", "torch"]))
    if kind == "torch":
        try:
            import torch
        except ImportError:
            kind = "numpy"
        else:
            t = torch.from_numpy(np.array(a, order="C"))  # (ascontiguousarray makes 0-d 1-d)
            return DLPackOnly(t), np.array(a)
    if kind == "legacy":
        w = np.array(a)  # writable: NumPy exports no read-only legacy capsules
        return LegacyDLPackOnly(w), np.array(a)
    return DLPackOnly(a), np.array(a)
