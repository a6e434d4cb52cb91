"""Host arrays: NumPy, the buffer protocol, __array_interface__ and __array__ (ARR-1..11)."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import strategies as S
from adapters import numpy_dtype
from helpers import assert_values_equal, data_start, native, repro


def _has_negative_stride(a):
    return any(s < 0 for s in a.strides)  # torch refuses them even on size-1 dims


def _is_bf16(a):
    return S.ml_dtypes is not None and a.dtype == np.dtype(S.ml_dtypes.bfloat16)


@given(a=S.views(S.arrays(dtypes=S.numpy_dtypes(byteorders=("=",)))))
def test_arr1_zero_copy_share(impl, a):
    """ARR-1: same dtype on the CPU is shared; strides are byte strides / itemsize; offset,
    stride-0, 0-d and zero-size views too. ARR-3 when a stride is negative."""
    if _has_negative_stride(a):
        impl.diverges_here("ARR-3")
    if _is_bf16(a):
        impl.diverges_here("DT-1-ml_dtypes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns on read-only (broadcast) arrays
        t = impl.as_tensor(a)
    msg = repro(impl, a)
    assert impl.dtype_name(t) == native(a).dtype.name if not _is_bf16(a) else "bfloat16", msg
    assert impl.device_str(t) == "cpu", msg
    assert impl.shape(t) == a.shape, msg
    assert_values_equal(impl.values(t), a, msg)
    if a.size > 0:
        assert impl.data_ptr(t) == data_start(a), "not shared" + msg
        for n, s, bs in zip(a.shape, impl.strides(t), a.strides):
            if n > 1:
                assert s * a.itemsize == bs, f"strides {impl.strides(t)} vs {a.strides}" + msg
        if not _is_bf16(a):
            assert np.shares_memory(impl.host_array(t), a), msg
    if impl.has_read_only:
        assert impl.is_read_only(t) == (not a.flags.writeable), msg


@given(a=S.arrays(dtypes=S.numpy_dtypes(names=S.NATIVE_NAMES, byteorders=("=",)),
                  shape=S.hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)),
       value=st.integers(0, 1))
def test_arr1_mutation_visible(impl, a, value):
    """ARR-1: a write through the tensor is seen in the array (they are the same memory)."""
    t = impl.as_tensor(a)
    impl.write_first(t, value)
    assert a[(0,) * a.ndim] == value, repro(impl, a)


@pytest.mark.parametrize("make", [
    lambda: np.arange(6.0)[::-1],
    lambda: np.flip(np.arange(12, dtype=np.int32).reshape(3, 4), axis=1),
    lambda: np.arange(24, dtype=np.float32).reshape(2, 3, 4)[:, ::-2, 1:],
    lambda: np.ascontiguousarray(np.zeros((1, 3)))[::-1],  # negative stride on a size-1 dim
], ids=["1d", "flip", "mixed", "size1"])
def test_arr3_negative_strides_shared(impl, make):
    """ARR-3 [ext]: negative strides are shared (numpy/numpy#23349 for the size-1 case)."""
    a = make()
    if _has_negative_stride(a) or any(s < 0 for s in a.strides):
        impl.diverges("ARR-3")
    t = impl.as_tensor(a)
    assert impl.data_ptr(t) == data_start(a)
    assert_values_equal(impl.values(t), a)
    if a.size:
        impl.write_first(t, 7)
        assert a[(0,) * a.ndim] == 7


@given(a=S.views(S.arrays(dtypes=S.numpy_dtypes(names=[n for n in S.NATIVE_NAMES if n not in
                                                        ("bool", "uint8", "int8")],
                                                 byteorders=(">",)))))
def test_arr4_byteswapped_copied(impl, a):
    """ARR-4 [ext]: non-native byte order is converted in a copy (native dtype, same values),
    and the source is untouched."""
    impl.diverges("ARR-4")
    before = a.copy()
    t = impl.as_tensor(a)
    assert impl.dtype_name(t) == native(a).dtype.name
    assert_values_equal(impl.values(t), a, repro(impl, a))
    if a.size:
        assert not np.shares_memory(impl.host_array(t), a)
    assert np.array_equal(a, before)


def test_arr5_packed_fields_gathered(impl):
    """ARR-5 [ext]: strides that are not a multiple of the item size are gathered into a copy."""
    impl.diverges("ARR-5")
    rec = np.zeros(5, dtype=[("a", "u1"), ("b", "<f4")])
    rec["b"] = np.arange(5) * 1.5
    field = rec["b"]
    assert field.strides == (5,)
    t = impl.as_tensor(field)
    assert impl.dtype_name(t) == "float32"
    assert_values_equal(impl.values(t), field)
    impl.write_first(t, 99)
    assert rec["b"][0] == 0  # a copy


def test_arr6_misaligned_shared(impl):
    """ARR-6: misaligned data is shared."""
    buf = np.zeros(40, np.uint8)
    a = np.ndarray((4,), np.float32, buffer=buf.data, offset=1)  # writable view
    assert not a.flags.aligned
    t = impl.as_tensor(a)
    assert impl.data_ptr(t) == data_start(a) and impl.data_ptr(t) % 4 == 1
    impl.write_first(t, 2.5)
    assert a[0] == 2.5


@given(a=S.readonly_arrays(S.views(S.arrays(dtypes=S.numpy_dtypes(names=S.NATIVE_NAMES,
                                                                  byteorders=("=",))))))
def test_arr7_read_only_shared_and_protected(impl, a):
    """ARR-7 [ext]: read-only arrays are shared as read-only tensors: writes raise ValueError,
    exports carry the flag, no warning."""
    impl.diverges("ARR-7")
    if _has_negative_stride(a):
        impl.diverges_here("ARR-3")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = impl.as_tensor(a)
    assert impl.is_read_only(t)
    if a.size:
        assert impl.data_ptr(t) == data_start(a)
        with pytest.raises(ValueError):
            impl.write_first(t, 1)
        with pytest.raises(ValueError):
            t.fill_(0)
    exported = np.asarray(t)
    assert not exported.flags.writeable
    if a.size:
        cap_t = impl.as_tensor(S.DLPackOnly(t))  # DLPack carries the flag too
        assert impl.is_read_only(cap_t)


@given(case=S.buffer_objects())
def test_arr8_buffer_protocol_shared(impl, case):
    """ARR-8 [ext]: buffer objects are shared with the dtype of their PEP 3118 format."""
    impl.diverges("ARR-8")
    obj, dtype_name, values = case
    t = impl.as_tensor(obj)
    assert impl.dtype_name(t) == dtype_name, repro(impl, obj)
    assert_values_equal(impl.values(t), values, repro(impl, obj))
    native_order = np.asarray(obj).dtype.isnative
    if values.size and native_order and not (isinstance(obj, memoryview) and obj.readonly):
        impl.write_first(t, 1)
        assert np.asarray(obj).reshape(-1)[0] == 1, "the write did not reach the buffer"


def test_arr8_bytes_and_str_are_type_errors(impl):
    """ARR-8 / ARG-4: str and bytes stay TypeError (as in PyTorch)."""
    for bad in ["abc", b"abc", np.str_("x"), np.bytes_(b"x")]:
        with pytest.raises(TypeError):
            impl.as_tensor(bad)


def test_arr8_read_only_buffer(impl):
    """ARR-7 + ARR-8: a bytes-backed memoryview is shared read-only."""
    impl.diverges("ARR-8")
    raw = b"\x01\x02\x03\x04"
    t = impl.as_tensor(memoryview(raw))
    assert impl.is_read_only(t) and impl.values(t).tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError):
        impl.write_first(t, 0)


class ArrayInterfaceOnly:
    def __init__(self, a):
        self._a = a
        self.__array_interface__ = a.__array_interface__


class ArrayMethodOnly:
    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a


@given(a=S.views(S.arrays(dtypes=S.numpy_dtypes(names=S.NATIVE_NAMES))))
def test_arr9_array_interface_and_array_method_shared(impl, a):
    """ARR-9 [ext]: __array_interface__ v3 objects are shared through it; objects with only
    __array__ are shared through the array it returns."""
    impl.diverges("ARR-9")
    for wrapper in (ArrayInterfaceOnly(a), ArrayMethodOnly(a)):
        t = impl.as_tensor(wrapper)
        assert_values_equal(impl.values(t), a, repro(impl, a))
        byteswapped = a.dtype.byteorder == ">"
        if a.size and not byteswapped:
            assert impl.data_ptr(t) == data_start(a)
        if impl.has_read_only:
            assert impl.is_read_only(t) == (not a.flags.writeable and not byteswapped)


def test_arr9_array_interface_with_buffer_data(impl):
    """ARR-9: 'data' may be an object with the buffer protocol, with an offset."""
    impl.diverges("ARR-9")
    buf = bytearray(np.arange(6, dtype=np.int16).tobytes())

    class Obj:
        __array_interface__ = {"shape": (2,), "typestr": "<i2", "data": buf, "offset": 4,
                               "version": 3}

    t = impl.as_tensor(Obj())
    assert impl.values(t).tolist() == [2, 3]
    impl.write_first(t, 9)
    assert np.frombuffer(buf, np.int16)[2] == 9


def test_arr10_object_arrays_element_by_element(impl):
    """ARR-10 [ext]: object arrays are converted like nested sequences (always a copy)."""
    impl.diverges("ARR-10")
    a = np.array([[1, 2.5], [True, 4]], dtype=object)
    t = impl.as_tensor(a)
    assert impl.dtype_name(t) == "float32"
    assert impl.values(t).tolist() == [[1.0, 2.5], [1.0, 4.0]]
    assert impl.dtype_name(impl.as_tensor(np.array([1, 2], dtype=object))) == "int64"


@pytest.mark.parametrize("a", [
    np.array(["a", "b"]), np.array([b"x"]), np.array(["2020-01-01"], dtype="M8[D]"),
    np.zeros(2, dtype=[("x", "i4"), ("y", "f4")]), np.zeros(2, dtype=np.longdouble),
    np.zeros(2, dtype="m8[s]"),
], ids=["str", "bytes", "datetime", "structured", "longdouble", "timedelta"])
def test_arr10_unsupported_dtypes_type_error(impl, a):
    """ARR-10: other unsupported dtypes raise TypeError listing the supported dtypes."""
    with pytest.raises(TypeError) as e:
        impl.as_tensor(a)
    if impl.name != "torch":
        assert "float32" in str(e.value) and "supported" in str(e.value)


def _small_array(draw_dt):
    # Values exactly representable in every dtype's range used below (DT-3 in range).
    return S.hnp.arrays(draw_dt, S.small_shapes,
                        elements=st.integers(-100, 100).map(lambda x: x / 2))


@given(data=st.data(), src_name=st.sampled_from(S.NATIVE_NAMES),
       dst_name=st.sampled_from(S.NATIVE_NAMES))
def test_arr11_dtype_change_copies_and_keeps_source(impl, data, src_name, dst_name):
    """ARR-11 (+ DT-3 in range): a dtype change copies; values equal NumPy's own cast; the
    source is never modified."""
    assume(src_name != dst_name)
    src_dt = numpy_dtype(src_name)
    vals = data.draw(S.hnp.arrays(np.float64, S.small_shapes,
                                  elements=st.integers(-100, 100).map(lambda x: x / 2)))
    if src_dt.kind in "iub":
        vals = np.asarray(np.trunc(vals))
    if src_dt.kind == "u":
        vals = np.asarray(np.abs(vals))
    a = np.asarray(vals.astype(src_dt))  # an array, never a NumPy scalar (SEQ-5 differs)
    dst_dt = numpy_dtype(dst_name)
    if dst_dt.kind == "u" and src_dt.kind in "fc":
        assume((a.real >= 0).all())  # negative float -> unsigned is out of range (DT-3)
    before = a.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ComplexWarning from NumPy's own cast
        expected = a.astype(dst_dt)
        t = impl.as_tensor(a, dtype=impl.dtype(dst_name))
    assert impl.dtype_name(t) == dst_name
    assert_values_equal(impl.values(t), expected, repro(impl, a, dtype=dst_name))
    if a.size:
        assert impl.data_ptr(t) != data_start(a)
    assert np.array_equal(a, before)
