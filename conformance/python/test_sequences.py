"""Python data: scalars and nested sequences (SEQ-1..6)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import astensor
import strategies as S
from adapters import default_dtype, numpy_dtype, torch
from helpers import assert_values_equal, repro


def promote(a: str, b: str):
    """DT-2 on dtype names: torch.promote_types when torch is installed, else the project's
    table (the table itself is checked against torch in test_dtypes.py)."""
    if torch is not None:
        try:
            return str(torch.promote_types(getattr(torch, a), getattr(torch, b)))[6:]
        except (RuntimeError, TypeError):
            return None
    r = astensor._astensor._promote_types(a, b)
    return None if r is None else r.name


def leaf_dtype(x, default="float32"):
    """SEQ-3: the dtype a leaf counts as."""
    if isinstance(x, np.generic):
        return x.dtype.name
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int64"
    if isinstance(x, float):
        return default
    if isinstance(x, complex):
        return "complex128" if default == "float64" else "complex64"
    raise AssertionError(x)


def expected_leaf(x, dt):
    """One leaf stored into dt the way SEQ-5 says (integers rounded once, as C++ does)."""
    with np.errstate(all="ignore"):
        if isinstance(x, (bool, np.bool_)):
            return np.array(bool(x)).astype(dt)
        if isinstance(x, (int, np.integer)):
            return np.array(int(x), dtype=np.int64).astype(dt)
        return np.array(x).astype(dt)


def leaves(data):
    if isinstance(data, (list, tuple)):
        for x in data:
            yield from leaves(x)
    else:
        yield data


# --- SEQ-1 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value,dtype", [(True, "bool"), (7, "int64"), (2.5, "float32"),
                                         (1 + 2j, "complex64")])
def test_seq1_python_scalars(impl, value, dtype):
    """SEQ-1: Python scalars give fresh 0-d tensors of bool/int64/default float/complex."""
    t = impl.as_tensor(value)
    assert impl.dtype_name(t) == dtype and impl.shape(t) == ()
    assert impl.values(t)[()] == value
    assert impl.is_leaf(t) and not impl.requires_grad(t)


def test_seq1_complex_follows_default_float(impl):
    """SEQ-1 / DT-4: complex128 under a float64 default."""
    with default_dtype(impl, "float64"):
        assert impl.dtype_name(impl.as_tensor(1j)) == "complex128"
        assert impl.dtype_name(impl.as_tensor(1.5)) == "float64"


@given(x=S.numpy_scalars())
def test_seq1_numpy_scalars_keep_dtype(impl, x):
    """SEQ-1: NumPy scalars give 0-d tensors of their own dtype (always a copy)."""
    if x.dtype == np.uint64:
        impl.diverges_here("SEQ-1-uint64")
    if x.dtype.name == "bfloat16":
        impl.diverges_here("DT-1-ml_dtypes")
    t = impl.as_tensor(x)
    assert impl.dtype_name(t) == x.dtype.name, repro(impl, x)
    assert impl.shape(t) == ()
    assert_values_equal(impl.values(t), np.array(x), repro(impl, x))


def test_seq1_bfloat16_scalars(impl):
    """SEQ-1: an ml_dtypes bfloat16 scalar gives a 0-d bfloat16 tensor with its value."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    impl.diverges("DT-1-ml_dtypes")
    for v in (1.5, -3.0, 0.0078125):
        t = impl.as_tensor(ml_dtypes.bfloat16(v))
        assert impl.dtype_name(t) == "bfloat16" and float(impl.values(t)[()]) == v
    t = impl.as_tensor([ml_dtypes.bfloat16(2.5), np.float16(1)])
    assert impl.dtype_name(t) == "float32" and impl.values(t).tolist() == [2.5, 1.0]


# --- SEQ-2 -----------------------------------------------------------------------------------

@given(case=S.nested_sequences(leaves=S.scalar_leaves(("bool", "int", "float", "complex"))))
def test_seq2_shape_is_the_nesting(impl, case):
    """SEQ-2: the shape is the nesting of the sequences (lists and tuples mixed)."""
    data, shape = case
    t = impl.as_tensor(data)
    assert impl.shape(t) == shape, repro(impl, data)


@given(data=S.ragged_sequences())
def test_seq2_ragged_raises(impl, data):
    """SEQ-2: every sequence at one depth has the same length, else ValueError naming it."""
    with pytest.raises(ValueError, match="expected sequence of length|expected a scalar"):
        impl.as_tensor(data)


def test_seq2_empty_then_nonempty_is_ragged(impl):
    """SEQ-2 [ext]: [[], [1]] is ragged (PyTorch returns shape (2, 0))."""
    impl.diverges("SEQ-2")
    with pytest.raises(ValueError):
        impl.as_tensor([[], [1]])


def test_seq2_message_names_dim_and_path(impl):
    """SEQ-2: the message says the expected length, the dim and the index path."""
    impl.diverges("SEQ-6")  # torch's message has no index path
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 1 \(got 3\).*\[1\]"):
        impl.as_tensor([[1, 2], [3, 4, 5]])


# --- SEQ-3 -----------------------------------------------------------------------------------

_no_uint = [n for n in S.NATIVE_NAMES if n not in ("uint16", "uint32", "uint64")]


@given(case=S.nested_sequences(leaves=st.one_of(S.py_bools, st.integers(-2**24, 2**24),
                                                  S.py_floats, S.py_complex,
                                                  S.numpy_scalars(names=_no_uint))),
       default=st.sampled_from(["float32", "float64"]))
def test_seq3_inferred_dtype_is_the_promotion_fold(impl, case, default):
    """SEQ-3: the dtype is the promotion fold over the leaves (Python scalars are not weak);
    an empty sequence gives the default dtype. Values equal NumPy's conversion."""
    data, _ = case
    expected = None
    for x in leaves(data):
        d = leaf_dtype(x, default)
        expected = d if expected is None else promote(expected, d)
    expected = expected or default
    if "int" in expected and any(isinstance(x, np.bool_) for x in leaves(data)):
        impl.diverges_here("SEQ-3-npbool")
    with default_dtype(impl, default):
        t = impl.as_tensor(data)
    assert impl.dtype_name(t) == expected, repro(impl, data)
    dt = numpy_dtype(expected)
    want = np.array([expected_leaf(x, dt) for x in leaves(data)], dtype=dt)
    assert_values_equal(impl.values(t), want.reshape(impl.shape(t)), repro(impl, data))


@pytest.mark.parametrize("data,dtype", [
    ([np.float16(1), 1.0], "float32"), ([np.float16(1), 1], "float16"),
    ([np.int8(1), 1.5], "float32"), ([np.int32(1), 1], "int64"),
    ([np.uint8(1), np.int8(1)], "int16"), ([np.uint8(200), -1], "int64"),
    ([True, 1], "int64"), ([1, 1j], "complex64"),
    ([np.float64(1.5), np.complex64(1j)], "complex128"), ([], "float32"),
], ids=str)
def test_seq3_examples_from_torch(impl, data, dtype):
    """SEQ-3: the examples of research/torch-as-tensor-notes.md R24."""
    assert impl.dtype_name(impl.as_tensor(data)) == dtype


@pytest.mark.parametrize("data,dtype", [
    ([0, np.False_], "int64"), ([[np.True_], [np.int8(3)]], "int8"),
    ([np.uint8(7), np.True_], "uint8"),
], ids=str)
def test_seq3_numpy_bools_promote_with_ints(impl, data, dtype):
    """SEQ-3: an np.bool_ leaf promotes with integer leaves like a Python bool does (torch
    raises TypeError here: SEQ-3-npbool)."""
    impl.diverges("SEQ-3-npbool")
    t = impl.as_tensor(data)
    assert impl.dtype_name(t) == dtype
    assert impl.values(t).tolist() == np.array(data, dtype=dtype).tolist()


# --- SEQ-4 -----------------------------------------------------------------------------------

@given(a=S.arrays(dtypes=S.numpy_dtypes(names=_no_uint, byteorders=("=", ">")),
                  shape=S.hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)),
       n=st.integers(1, 3), as_tensor_leaves=st.booleans())
def test_seq4_array_and_tensor_leaves_are_blocks(impl, a, n, as_tensor_leaves):
    """SEQ-4 [ext]: arrays and tensors in a sequence are sub-blocks, like np.stack."""
    impl.diverges("SEQ-4")
    blocks = [a] * n
    if as_tensor_leaves:
        blocks = [impl.as_tensor(np.array(a)) for _ in range(n)]
    t = impl.as_tensor(blocks)
    assert impl.shape(t) == (n,) + a.shape
    assert impl.dtype_name(t) == a.dtype.newbyteorder("=").name
    assert_values_equal(impl.values(t), np.stack([a] * n), repro(impl, blocks))


# --- SEQ-5 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value,dtype", [
    (256, "uint8"), (128, "int8"), (2**31, "int32"), (2**63, "int64"), (-2**63 - 1, "int64"),
    (float("nan"), "int32"), (float("inf"), "int64"), (1e20, "int64"), (2**64, "uint64"),
], ids=str)
def test_seq5_out_of_range_overflow_error(impl, value, dtype):
    """SEQ-5: out-of-range values for an integer dtype raise OverflowError naming the value,
    the dtype and the index."""
    impl.diverges("SEQ-5")
    with pytest.raises(OverflowError, match=dtype):
        impl.as_tensor([0, value], dtype=impl.dtype(dtype))


@pytest.mark.parametrize("value,dtype", [(-1, "uint8"), (-1, "uint16"), (-255, "uint8")], ids=str)
def test_seq5_negative_into_unsigned(impl, value, dtype):
    """SEQ-5 [ext]: negative into unsigned raises (PyTorch wraps small negatives)."""
    impl.diverges("SEQ-5")
    with pytest.raises(OverflowError):
        impl.as_tensor([value], dtype=impl.dtype(dtype))


def test_seq5_conversions_in_range(impl):
    """SEQ-5: floats into integers truncate toward zero; into floats round to nearest and
    overflow to inf; into bool nonzero is True."""
    assert impl.values(impl.as_tensor([1.7, -1.7, 2.5], dtype=impl.dtype("int32"))).tolist() == [1, -1, 2]
    assert impl.values(impl.as_tensor([0.1], dtype=impl.dtype("float32")))[0] == np.float32(0.1)
    assert math.isinf(impl.values(impl.as_tensor([1e40], dtype=impl.dtype("float32")))[0])
    assert math.isinf(impl.values(impl.as_tensor([70000.0], dtype=impl.dtype("float16")))[0])
    got = impl.values(impl.as_tensor([0, 2, -0.0, 0.5, float("nan"), 1j], dtype=impl.dtype("bool")))
    assert got.tolist() == [False, True, False, True, True, True]


def test_seq5_complex_into_real_type_error(impl):
    """SEQ-5: a complex value into a real dtype is a TypeError."""
    with pytest.raises(TypeError):
        impl.as_tensor([1.0, 2 + 1j], dtype=impl.dtype("float32"))


# --- SEQ-6 -----------------------------------------------------------------------------------

@given(data=S.bad_sequences())
def test_seq6_non_numeric_leaves_type_error(impl, data):
    """SEQ-6: strings, None and other objects among the leaves raise TypeError."""
    # torch: RuntimeError "Could not infer dtype" for None/dict/object leaves, and it walks a
    # lone str/bytes leaf as a sequence; its [0, 'x'] TypeError is in test_torch_ports.py.
    impl.diverges("ARG-4")
    with pytest.raises(TypeError):
        impl.as_tensor(data)


def test_seq6_deep_and_self_referential(impl):
    """SEQ-6: nesting deeper than 64 or a self-referential list is a ValueError, no crash."""
    impl.diverges("SEQ-6")
    deep = 1
    for _ in range(65):
        deep = [deep]
    with pytest.raises(ValueError):
        impl.as_tensor(deep)
    ok = 1.0
    for _ in range(64):
        ok = [ok]
    assert len(impl.shape(impl.as_tensor(ok))) == 64
    loop = [1, 2]
    loop.append(loop)
    with pytest.raises(ValueError):
        impl.as_tensor(loop)
    head = []
    head.append(head)
    with pytest.raises(ValueError):
        impl.as_tensor(head)


def test_seq6_huge_int_overflow(impl):
    """SEQ-6: a Python int beyond 64 bits is an OverflowError (unless the dtype is floating)."""
    impl.diverges("SEQ-6")
    with pytest.raises(OverflowError):
        impl.as_tensor([1, 2**70])
    with pytest.raises(OverflowError):
        impl.as_tensor(2**64)
    assert impl.values(impl.as_tensor([2**70], dtype=impl.dtype("float64")))[0] == 2.0**70
    assert impl.values(impl.as_tensor([2**63], dtype=impl.dtype("uint64")))[0] == 2**63


def test_seq6_nothing_left_allocated_after_errors(impl):
    """SEQ-6: failed conversions leave no library allocation behind."""
    if impl.name == "torch":
        pytest.skip("torch has no allocation counter to read")
    before = astensor._astensor._storage_stats()
    for bad in ([1, "x"], [[1, 2], [3]], [0, 300], [1.0, None], [np.ones(2), np.ones(3)]):
        with pytest.raises((TypeError, ValueError, OverflowError)):
            impl.as_tensor(bad, dtype=impl.dtype("uint8") if bad == [0, 300] else None)
    assert astensor._astensor._storage_stats() == before
