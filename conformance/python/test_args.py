"""Signature and dispatch (ARG-1..4)."""

import array
import collections

import numpy as np
import pytest

import astensor
from adapters import torch
from helpers import data_start


def test_arg1_keyword_only_and_data_keyword(impl):
    """ARG-1: dtype/device are keyword-only; data= works as a keyword; unknown or missing
    arguments are TypeErrors."""
    a = np.arange(3.0)
    with pytest.raises(TypeError):
        impl.as_tensor(a, impl.dtype("float32"))
    assert impl.shape(impl.as_tensor(data=a)) == (3,)
    fn = impl.as_tensor if impl.name == "torch" else impl.fn
    with pytest.raises(TypeError):
        (torch.as_tensor if impl.name == "torch" else fn)(a, requires_grad=True)
    with pytest.raises(TypeError):
        (torch.as_tensor if impl.name == "torch" else fn)()


def test_arg1_copy_keyword(impl):
    """ARG-1 [ext]: copy= is accepted (None, True, False); anything else is a TypeError."""
    impl.diverges("ARG-1")
    a = np.arange(3.0)
    for c in (None, True, False):
        impl.as_tensor(a, copy=c)
    with pytest.raises(TypeError):
        impl.as_tensor(a, copy="yes")


def _dtype_spellings(impl):
    out = [impl.dtype("float64"), float]
    if impl.name != "torch":
        out += ["float64", np.float64, np.dtype("float64"), np.dtype(">f8")]
        if torch is not None:
            out.append(torch.float64)
    return out


def test_arg2_dtype_spellings(impl):
    """ARG-2: a project dtype, a name, NumPy dtype/type, torch.dtype and Python float all
    mean float64."""
    for spelling in _dtype_spellings(impl):
        assert impl.dtype_name(impl.as_tensor([1, 2], dtype=spelling)) == "float64", spelling
    assert impl.dtype_name(impl.as_tensor([1], dtype=int)) == "int64"
    assert impl.dtype_name(impl.as_tensor([1], dtype=bool)) == "bool"


def test_arg2_more_spellings(impl):
    """ARG-2 [ext-ish]: names, NumPy and complex (PyTorch accepts only torch.dtype and
    float/int/bool)."""
    impl.diverges("ARG-2")
    assert impl.dtype_name(impl.as_tensor([1], dtype="int16")) == "int16"
    assert impl.dtype_name(impl.as_tensor([1], dtype=np.uint8)) == "uint8"
    assert impl.dtype_name(impl.as_tensor([1], dtype=complex)) == "complex128"
    assert impl.dtype_name(impl.as_tensor([1], dtype=np.dtype("bool"))) == "bool"
    if torch is not None:
        assert impl.dtype_name(impl.as_tensor([1], dtype=torch.bfloat16)) == "bfloat16"


@pytest.mark.parametrize("bad", ["f3", "U3", "floaty", 3, object(), np.dtype("U3"), str, "int99"],
                         ids=repr)
def test_arg2_bad_dtype_type_error(impl, bad):
    """ARG-2: anything else is a TypeError naming the value. Strings NumPy reads ('float',
    'double', 'f4': test_tensor_api.py) are dtypes; ones it refuses ('f3') or that name a
    dtype we lack ('U3') are not."""
    with pytest.raises(TypeError) as e:
        impl.as_tensor([1.0], dtype=bad)
    if impl.name != "torch" and isinstance(bad, str):
        assert bad in str(e.value)


def test_arg3_device_spellings(impl):
    """ARG-3: 'cpu', a Device, an object with .type/.index (torch.device)."""
    a = np.arange(3.0)
    spellings = ["cpu"]
    if impl.name != "torch":
        spellings += [astensor.Device("cpu")]
    if torch is not None:
        spellings.append(torch.device("cpu"))
    for d in spellings:
        t = impl.as_tensor(a, device=d)
        assert impl.device_str(t) == "cpu" and impl.data_ptr(t) == data_start(a), d


@pytest.mark.parametrize("bad", ["bogus", "cuda:x", "cpu:-1", "sim:", ""], ids=repr)
def test_arg3_malformed_device_value_error(impl, bad):
    """ARG-3: a malformed device string is a ValueError quoting it."""
    impl.diverges("ARG-3")
    with pytest.raises(ValueError) as e:
        impl.as_tensor([1.0], device=bad)
    assert repr(bad).strip("'") in str(e.value)


def test_arg3_device_objects():
    """ARG-3: astensor.Device parses, prints and compares like its string (cpu:0 is cpu)."""
    d = astensor.Device("cuda:1")
    assert (d.type, d.index, str(d)) == ("cuda", 1, "cuda:1")
    assert astensor.Device("cuda", 1) == d and d == "cuda:1" and hash(d) == hash("cuda:1")
    assert astensor.Device("cpu:0") == astensor.Device("cpu") and astensor.Device("cpu").index is None
    assert {astensor.Device("sim:0"): 1}["sim:0"] == 1
    with pytest.raises(ValueError, match="gpu"):
        astensor.Device("gpu")


def test_arg3_bad_device_type_error(impl):
    """ARG-3: a device of the wrong type is a TypeError."""
    with pytest.raises(TypeError):
        impl.as_tensor([1.0], device=2.5)


class _Seq(collections.abc.Sequence):
    def __init__(self, *xs):
        self.xs = xs

    def __len__(self):
        return len(self.xs)

    def __getitem__(self, i):
        return self.xs[i]


def test_arg4_sequences_by_cpython_definition(impl):
    """ARG-4 (8): anything that is a sequence by CPython's definition (range, user
    sequences) is converted as nested data."""
    assert impl.values(impl.as_tensor(range(4))).tolist() == [0, 1, 2, 3]
    assert impl.values(impl.as_tensor(_Seq(_Seq(1, 2), _Seq(3, 4)))).tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("bad", [None, {"a": 1}, {1, 2}, iter([1, 2]), object(), "s", b"b",
                                 (x for x in [1])], ids=lambda x: type(x).__name__)
def test_arg4_non_data_type_error(impl, bad):
    """ARG-4: str, bytes, None, dict, set, iterators and other objects raise TypeError
    ('cannot convert object of type ...')."""
    if not isinstance(bad, (str, bytes)):
        impl.diverges("ARG-4")
    with pytest.raises(TypeError, match="cannot convert object of type|invalid data type"):
        impl.as_tensor(bad)


def test_arg4_dispatch_order(impl):
    """ARG-4: DLPack before the buffer protocol before __array_interface__ before __array__;
    an ndarray subclass is read as an ndarray whatever else it defines."""
    impl.diverges("ARR-9")
    x, y, z = np.arange(3.0), np.arange(3.0) + 10, np.arange(3.0) + 20

    class Both:
        def __dlpack__(self, **kw):
            return x.__dlpack__(**kw)

        def __dlpack_device__(self):
            return x.__dlpack_device__()

        __array_interface__ = y.__array_interface__

        def __array__(self, dtype=None, copy=None):
            return z

    assert impl.data_ptr(impl.as_tensor(Both())) == data_start(x)

    class BufferAndInterface(bytearray):
        __array_interface__ = y.__array_interface__

    b = BufferAndInterface(b"\x01\x02")
    assert impl.dtype_name(impl.as_tensor(b)) == "uint8"

    class InterfaceAndArray:
        __array_interface__ = y.__array_interface__

        def __array__(self, dtype=None, copy=None):
            return z

    assert impl.data_ptr(impl.as_tensor(InterfaceAndArray())) == data_start(y)

    class Sub(np.ndarray):
        def __dlpack__(self, **kw):
            raise AssertionError("an ndarray subclass must be read as an ndarray")

    s = np.arange(4.0).view(Sub)
    assert impl.data_ptr(impl.as_tensor(s)) == data_start(s)
    m = np.ma.masked_array([1.0, 2.0], mask=[0, 1])
    assert impl.data_ptr(impl.as_tensor(m)) == data_start(m.data)


def test_arg4_array_module_array(impl):
    """ARG-4 (5): array.array goes through the buffer protocol (ARR-8)."""
    impl.diverges("ARR-8")
    a = array.array("d", [1.0, 2.0])
    t = impl.as_tensor(a)
    assert impl.dtype_name(t) == "float64"
