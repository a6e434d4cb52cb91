"""PyTorch's own as_tensor tests that apply (research/torch-as-tensor-notes.md §2), run
against every adapter."""

import math

import numpy as np
import pytest

from adapters import default_dtype
from helpers import data_start


def test_as_tensor_lists_and_errors(impl):
    """test_as_tensor: lists equal their values; [0, 'torch'] is a TypeError; identity; NumPy
    float64/int64/int8/uint8 arrays share (a write is visible); a dtype change copies."""
    assert impl.values(impl.as_tensor([[1, 2], [3, 4]])).tolist() == [[1, 2], [3, 4]]
    assert impl.dtype_name(impl.as_tensor([1, 2], dtype=impl.dtype("float32"))) == "float32"
    with pytest.raises(TypeError):
        impl.as_tensor([0, "torch"])
    y = impl.as_tensor([1.0])
    assert impl.as_tensor(y) is y
    assert impl.as_tensor(y, dtype=impl.dtype("float64")) is not y
    for dt in (np.float64, np.int64, np.int8, np.uint8):
        a = np.array([5, 6], dtype=dt)
        t = impl.as_tensor(a)
        impl.write_first(t, 1)
        assert a[0] == 1
        c = impl.as_tensor(a, dtype=impl.dtype("float32"))
        impl.write_first(c, 7)
        assert a[0] == 1


def test_as_tensor_self_referential(impl):
    """test_as_tensor: a self-referential list is refused (ValueError here, SEQ-6)."""
    impl.diverges("SEQ-6")
    z = [0]
    z[0] = z
    with pytest.raises(ValueError):
        impl.as_tensor(z)


def test_tensor_factory_copy_var(impl):
    """test_tensor_factory_copy_var: same dtype keeps data_ptr/leaf/requires_grad; a dtype
    change keeps the graph."""
    src = impl.make_tensor(np.arange(4.0), requires_grad=True)
    same = impl.as_tensor(src)
    assert impl.data_ptr(same) == impl.data_ptr(src)
    assert impl.is_leaf(same) and impl.requires_grad(same)
    other = impl.as_tensor(src, dtype=impl.dtype("float32"))
    assert not impl.is_leaf(other) and impl.requires_grad(other)


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_tensor_factory_type_inference(impl, default):
    """test_tensor_factory_type_inference, under both defaults."""
    complex_default = "complex128" if default == "float64" else "complex64"
    with default_dtype(impl, default):
        cases = [((), default), (5.0, default), (5, "int64"), (True, "bool"),
                 ([1, 2.0, 3], default), ((5, 3 + 2j), complex_default),
                 (np.array(()), "float64"), (np.array(5.0), "float64"),
                 (np.array([1, 2], np.uint8), "uint8"),
                 (((7, np.array(5)), (np.array(9), 5.0)), default),
                 (((7, 5), (9, np.array(5.0))), "float64")]
        for data, want in cases:
            assert impl.dtype_name(impl.as_tensor(data)) == want, data


def test_tensor_factory_bool_truth_table(impl):
    """test_tensor_factory: the bool conversion truth table."""
    vals = [0.0, -0.0, float("nan"), float("inf"), -float("inf"), 2**63 - 1, -(2**63), 1e-323,
            1j, 0j, 1]
    got = impl.values(impl.as_tensor(vals, dtype=impl.dtype("bool"))).tolist()
    assert got == [False, False, True, True, True, True, True, True, True, False, True]


def test_tensor_factories_empty(impl):
    """test_tensor_factories_empty: [[[]]] has shape (1, 1, 0)."""
    assert impl.shape(impl.as_tensor([[[]]], device="cpu")) == (1, 1, 0)


def test_from_numpy_views(impl):
    """test_from_numpy: storage offset, non-contiguous and 'with holes' views, zero sizes."""
    a = np.arange(12.0).reshape(3, 4)
    for v in (a[1:], a[:, 1], a[::2, ::2], np.zeros((0, 2)), np.zeros((2, 0))):
        t = impl.as_tensor(v)
        assert impl.shape(t) == v.shape
        assert impl.values(t).tolist() == v.tolist()
        if v.size:
            assert impl.data_ptr(t) == data_start(v)
    odd = np.lib.stride_tricks.as_strided(np.zeros(8, np.uint8).view(np.float32), (1,), (3,))
    impl.diverges("ARR-5")
    assert impl.shape(impl.as_tensor(np.lib.stride_tricks.as_strided(
        np.arange(16, dtype=np.uint8), (3,), (3,)).view(np.uint8))) == (3,)
    del odd


def test_ctor_with_invalid_numpy_array_sequence(impl):
    """test_ctor_with_invalid_numpy_array_sequence: ragged lists of arrays are ValueErrors."""
    with pytest.raises(ValueError):
        impl.as_tensor([np.random.rand(5), np.random.rand(5), np.random.rand(6)])
    with pytest.raises(ValueError):
        impl.as_tensor([[np.random.rand(5), np.random.rand(6)]])
    impl.diverges("SEQ-4")
    with pytest.raises(ValueError):
        impl.as_tensor([[np.random.rand(3), 1.0]])


def test_ctor_with_numpy_scalar(impl):
    """test_ctor_with_numpy_scalar_ctor: NumPy scalars round-trip through the values."""
    for x in (np.float64(1.5), np.int32(-3), np.uint8(200), np.bool_(True), np.complex64(1j)):
        t = impl.as_tensor(x)
        got = impl.values(t)[()]
        assert got == x and not math.isnan(abs(got))
