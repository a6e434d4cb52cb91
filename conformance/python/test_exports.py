"""The Tensor's exports (DLP-3): NumPy, PyTorch and memoryview take it back without a copy,
read-only carried. Only astensor tensors export, so these tests take no adapter."""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given

import astensor
import strategies as S
from helpers import assert_values_equal, data_start

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


@given(a=S.views(S.arrays(dtypes=S.numpy_dtypes(byteorders=("=",)))))
def test_dlp3_numpy_round_trip_shares(a):
    """DLP-3: np.asarray(t) and np.from_dlpack(t) share the tensor's memory."""
    t = astensor.as_tensor(a)
    back = np.asarray(t)
    assert back.shape == a.shape and back.dtype == a.dtype
    assert_values_equal(back, a)
    assert back.flags.writeable == a.flags.writeable  # read-only is carried (ARR-7)
    if a.size:
        assert data_start(back) == t.data_ptr()
        assert np.shares_memory(back, a)
    if a.dtype != S.numpy_dtype("bfloat16") if S.ml_dtypes else True:
        if a.flags.writeable:
            d = np.from_dlpack(t)
            assert d.shape == a.shape and (not a.size or data_start(d) == t.data_ptr())


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@given(a=S.views(S.arrays(dtypes=S.numpy_dtypes(names=S.NATIVE_NAMES, byteorders=("=",)))))
def test_dlp3_torch_from_dlpack_shares(a):
    """DLP-3: torch.from_dlpack(t) and torch.as_tensor(np.asarray(t)) share memory."""
    if any(s < 0 for s in a.strides):
        return  # torch cannot hold negative strides (its own limitation, see ARR-3)
    t = astensor.as_tensor(a)
    x = torch.from_dlpack(t)
    assert tuple(x.shape) == a.shape
    if a.size:
        assert x.data_ptr() == t.data_ptr()
        assert tuple(x.stride()) == t.stride() or any(n <= 1 for n in a.shape)
    if a.size:
        y = torch.as_tensor(np.asarray(t))
        assert y.data_ptr() == t.data_ptr()
        z = torch.as_tensor(t)  # torch finds __dlpack__ on our tensor
        assert z.data_ptr() == t.data_ptr() and tuple(z.shape) == a.shape


def test_dlp3_dlpack_protocol_details():
    """DLP-3: __dlpack__ versioned and legacy, __dlpack_device__, read-only handling."""
    t = astensor.as_tensor(np.arange(6.0).reshape(2, 3))
    assert t.__dlpack_device__() == (1, 0)
    legacy = t.__dlpack__()
    assert type(legacy).__name__ == "PyCapsule" and "dltensor" in repr(legacy)
    versioned = t.__dlpack__(max_version=(1, 0))
    assert "dltensor_versioned" in repr(versioned)
    u = astensor.as_tensor(versioned)  # our own capsule, imported back: shared
    assert u.data_ptr() == t.data_ptr()
    ro = np.arange(3.0)
    ro.flags.writeable = False
    r = astensor.as_tensor(ro)
    with pytest.raises(BufferError):
        r.__dlpack__()  # a legacy capsule cannot say read-only
    rv = astensor.as_tensor(r.__dlpack__(max_version=(1, 0)))
    assert rv.is_read_only
    c = astensor.as_tensor(t.__dlpack__(max_version=(1, 0), copy=True))
    assert c.data_ptr() != t.data_ptr() and c.tolist() == t.tolist()
    with pytest.raises(BufferError):
        t.__dlpack__(max_version=(1, 0), dl_device=(2, 0))
    with pytest.raises(ValueError):
        t.__dlpack__(stream=5)


def test_dlp3_unconsumed_capsules_release_the_tensor():
    """DLP-3: a capsule nobody consumed releases the tensor's memory when it dies."""
    a = np.arange(4.0)
    w = weakref.ref(a)
    t = astensor.as_tensor(a)
    caps = [t.__dlpack__(), t.__dlpack__(max_version=(1, 0))]
    del a, t
    gc.collect()
    assert w() is not None  # the capsules still hold the memory
    del caps
    gc.collect()
    assert w() is None


def test_dlp3_buffer_protocol():
    """DLP-3: memoryview(t) has the PEP 3118 format, shape and byte strides; read-only carried;
    bfloat16 goes through __array__ (ml_dtypes) instead."""
    a = np.arange(12, dtype=np.int16).reshape(3, 4)[::-1, ::2]
    m = memoryview(astensor.as_tensor(a))
    assert m.format == "h" and m.shape == (3, 2) and m.strides == a.strides and not m.readonly
    ro = a.copy()
    ro.flags.writeable = False
    assert memoryview(astensor.as_tensor(ro)).readonly
    assert memoryview(astensor.as_tensor(np.zeros(2, np.complex64))).format == "Zf"
    if S.ml_dtypes is not None:
        b = np.ones(3, S.ml_dtypes.bfloat16)
        tb = astensor.as_tensor(b)
        with pytest.raises(BufferError):
            memoryview(tb)
        nb = np.asarray(tb)
        assert nb.dtype == b.dtype and data_start(nb) == data_start(b)


def test_dlp3_numpy_keeps_tensor_alive():
    """ARR-2 through exports: an exported array keeps the memory alive after the tensor dies."""
    t = astensor.as_tensor([1.5, 2.5])
    arr = t.numpy()
    mv = memoryview(t)
    del t
    gc.collect()
    assert arr.tolist() == [1.5, 2.5] and mv.tolist() == [1.5, 2.5]


def test_tensor_api_basics():
    """The Tensor's Python API: shape, strides, len, repr, item, tolist, fill_, setitem."""
    t = astensor.as_tensor(np.arange(6, dtype=np.int32).reshape(2, 3))
    assert len(t) == 2 and t.ndim == 2 and t.numel() == 6 and t.is_contiguous()
    assert repr(t) == "tensor([[0, 1, 2],\n        [3, 4, 5]], dtype=astensor.int32)"  # as torch
    t[1, -1] = 40
    assert t.tolist() == [[0, 1, 2], [3, 4, 40]]
    with pytest.raises(IndexError):
        t[2, 0] = 1
    with pytest.raises(OverflowError):
        t[0, 0] = 2**40
    with pytest.raises(TypeError):
        t[0, 0] = "x"
    t.fill_(7)
    assert t.tolist() == [[7] * 3] * 2
    assert astensor.as_tensor(np.uint64(2**64 - 1)).item() == 2**64 - 1
    assert astensor.as_tensor(1 + 2j).item() == 1 + 2j
    with pytest.raises(ValueError):
        t.item()
    with pytest.raises(TypeError):
        len(astensor.as_tensor(1.0))
    with pytest.raises(TypeError):
        astensor.Tensor()
    assert not hasattr(t, "__cuda_array_interface__")  # CPU tensors do not claim CAI
