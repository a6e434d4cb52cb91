"""DLPack import (DLP-1, DLP-2) and __cuda_array_interface__ parsing (CAI-1..4).

Hand-built capsules (ctypes) check what real producers never do: NULL strides, a byte
offset, a foreign major version, unsupported dtypes and devices, and that the producer's
deleter runs exactly once in every case."""

import ctypes
import gc
import sys

import numpy as np
import pytest
from hypothesis import given

import astensor
import strategies as S
from helpers import assert_values_equal, data_start


# --- a ctypes DLPack producer ----------------------------------------------------------------

class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class Versioned(ctypes.Structure):
    pass


class Legacy(ctypes.Structure):
    pass


VDELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(Versioned))
LDELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(Legacy))
Versioned._fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32),
                      ("manager_ctx", ctypes.c_void_p), ("deleter", VDELETER),
                      ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]
Legacy._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", LDELETER)]

_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_capsule_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_name.restype = ctypes.c_char_p
_capsule_name.argtypes = [ctypes.py_object]
_NAMES = {"v": b"dltensor_versioned", "l": b"dltensor"}  # must outlive the capsules


class Producer:
    """Builds one capsule over a NumPy buffer and counts deleter calls."""

    def __init__(self, buf, shape, strides=None, byte_offset=0, code=0, bits=32, major=1,
                 flags=0, device=(1, 0), legacy=False):
        self.buf = buf
        self.calls = 0
        self.shape = (ctypes.c_int64 * len(shape))(*shape)
        self.strides = None if strides is None else (ctypes.c_int64 * len(strides))(*strides)
        t = DLTensor(buf.ctypes.data, DLDevice(*device), len(shape), DLDataType(code, bits, 1),
                     self.shape, self.strides, byte_offset)
        if legacy:
            self.deleter = LDELETER(self._on_delete)
            self.m = Legacy(t, None, self.deleter)
            name = _NAMES["l"]
        else:
            self.deleter = VDELETER(self._on_delete)
            self.m = Versioned(major, 0, None, self.deleter, flags, t)
            name = _NAMES["v"]
        self.capsule = _capsule_new(ctypes.addressof(self.m), name, None)

    def _on_delete(self, _ptr):
        self.calls += 1


def _name(capsule):
    return _capsule_name(capsule).decode()


@pytest.mark.parametrize("legacy", [False, True], ids=["versioned", "legacy"])
def test_dlp1_capsule_null_strides_offset_and_deleter_once(impl, legacy):
    """DLP-1: a capsule is consumed (renamed used_...), NULL strides mean C-contiguous,
    byte_offset is honored, and the deleter runs once, when the last tensor dies."""
    impl.diverges("DLP-1")
    buf = np.arange(10, dtype=np.int32)
    p = Producer(buf, (2, 3), byte_offset=8, legacy=legacy)
    t = impl.as_tensor(p.capsule)
    assert _name(p.capsule) == ("used_dltensor" if legacy else "used_dltensor_versioned")
    assert impl.values(t).tolist() == [[2, 3, 4], [5, 6, 7]]
    assert impl.data_ptr(t) == buf.ctypes.data + 8
    view = np.asarray(t)  # a view keeps the memory alive too
    del t
    gc.collect()
    assert p.calls == 0
    del view
    gc.collect()
    assert p.calls == 1
    with pytest.raises(ValueError, match="consumed"):
        impl.as_tensor(p.capsule)
    assert p.calls == 1


def test_dlp1_strides_in_elements(impl):
    """DLP-1: DLPack strides are in elements."""
    impl.diverges("DLP-1")
    buf = np.arange(12, dtype=np.float64)
    p = Producer(buf, (3, 2), strides=(1, 3), code=2, bits=64)
    t = impl.as_tensor(p.capsule)
    assert impl.values(t).tolist() == [[0, 3], [1, 4], [2, 5]]  # [i, j] = buf[i + 3 j]
    assert impl.strides(t) == (1, 3)


@pytest.mark.parametrize("kw,err", [
    ({"major": 2}, ValueError), ({"code": 7, "bits": 8}, TypeError),
    ({"device": (4, 0)}, TypeError), ({"code": 2, "bits": 24}, TypeError),
], ids=["major2", "float8", "opencl", "float24"])
def test_dlp1_refused_capsules_still_call_the_deleter_once(kw, err):
    """DLP-1: a capsule we cannot use raises, and its deleter still runs exactly once."""
    buf = np.zeros(4, np.int32)
    p = Producer(buf, (4,), **kw)
    with pytest.raises(err):
        astensor.as_tensor(p.capsule)
    gc.collect()
    assert p.calls == 1


def test_dlp2_read_only_flag(impl):
    """DLP-2 / ARR-7: the READ_ONLY flag gives a read-only tensor."""
    impl.diverges("DLP-1")
    buf = np.arange(4, dtype=np.int32)
    p = Producer(buf, (4,), flags=1)
    t = impl.as_tensor(p.capsule)
    assert impl.is_read_only(t)
    with pytest.raises(ValueError):
        impl.write_first(t, 5)
    assert buf[0] == 0


def test_dlp1_numpy_capsule_and_refcount(impl):
    """DLP-1: a NumPy capsule is shared; the array is released when the tensor dies."""
    impl.diverges("DLP-1")
    a = np.arange(5.0)
    before = sys.getrefcount(a)
    t = impl.as_tensor(a.__dlpack__(max_version=(1, 0)))
    assert impl.data_ptr(t) == data_start(a)
    assert sys.getrefcount(a) > before
    del t
    gc.collect()
    assert sys.getrefcount(a) == before


class Recorder(S.DLPackOnly):
    def __init__(self, inner):
        super().__init__(inner)
        self.kwargs = []

    def __dlpack__(self, **kw):
        self.kwargs.append(kw)
        return super().__dlpack__(**kw)


def test_dlp1_versioned_asked_first_then_legacy(impl):
    """DLP-1: max_version is passed (versioned first); a producer without it gets the legacy
    call."""
    a = np.arange(4.0)
    r = Recorder(a)
    t = impl.as_tensor(r)
    assert impl.data_ptr(t) == data_start(a)
    assert r.kwargs and r.kwargs[0].get("max_version", (0, 0))[0] >= 1
    legacy = S.LegacyDLPackOnly(np.arange(3.0))
    assert impl.values(impl.as_tensor(legacy)).tolist() == [0.0, 1.0, 2.0]


@given(case=S.dlpack_producers())
def test_dlp1_producers_shared(impl, case):
    """DLP-1: objects with __dlpack__ are shared when dtype and device match."""
    producer, values = case
    inner = producer._inner
    if isinstance(inner, np.ndarray) and any(st < 0 for st in inner.strides):
        impl.diverges_here("ARR-3")  # torch cannot import negative DLPack strides either
    t = impl.as_tensor(producer)
    assert_values_equal(impl.values(t), values)
    if values.size:
        ptr = inner.data_ptr() if hasattr(inner, "data_ptr") else data_start(inner)
        assert impl.data_ptr(t) == ptr


def test_dlp1_torch_tensors(impl):
    """DLP-1: torch tensors come in through DLPack, shared; requires_grad ones too."""
    torch = pytest.importorskip("torch")
    x = torch.arange(6.0).reshape(2, 3).t()
    t = impl.as_tensor(x)
    assert impl.data_ptr(t) == x.data_ptr() and impl.strides(t) == (1, 3)


# --- __cuda_array_interface__ ----------------------------------------------------------------

class CAI:
    def __init__(self, d):
        self.__cuda_array_interface__ = d


def _cai(**over):
    d = {"shape": (2, 3), "typestr": "<f4", "data": (0x10000, False), "version": 3}
    d.update(over)
    return {k: v for k, v in d.items() if v is not ...}


@pytest.mark.parametrize("d,err,field", [
    ([1, 2], TypeError, "dict"),
    (_cai(shape=...), TypeError, "shape"),
    (_cai(typestr=...), TypeError, "typestr"),
    (_cai(version=...), TypeError, "version"),
    (_cai(data=...), TypeError, "data"),
    (_cai(shape=(2, "x")), TypeError, "shape"),
    (_cai(shape=(-1, 3)), ValueError, "shape"),
    (_cai(typestr="<U4"), TypeError, "typestr"),
    (_cai(typestr=4), TypeError, "typestr"),
    (_cai(data=(1, 2, 3)), TypeError, "data"),
    (_cai(data=("p", False)), TypeError, "data"),
    (_cai(data=(16, 1)), TypeError, "data"),
    (_cai(strides=(4,)), ValueError, "strides"),
    (_cai(mask=np.zeros(6, bool)), ValueError, "mask"),
    (_cai(stream=0), ValueError, "stream"),
    (_cai(version=9), ValueError, "version"),
    (_cai(shape=(0, 3), data=(0, False), strides=(12, 4), version=2), None, None),
], ids=lambda x: str(x)[:30] if not isinstance(x, type) else x.__name__)
def test_cai1_malformed_dicts_name_the_field(d, err, field):
    """CAI-1: malformed dicts raise TypeError/ValueError naming the field; a well-formed
    dict then needs CUDA (DEV-3 RuntimeError where it is absent)."""
    if err is None:
        if astensor.device_count("cuda"):
            pytest.skip("this machine has CUDA: the DEV-3 case needs none")
        err, field = RuntimeError, "cuda"
    for fn in (astensor.as_tensor, astensor.reference.as_tensor):
        with pytest.raises(err, match=field):
            fn(CAI(d))


def test_cai2_needs_cuda_here():
    """CAI-2 / DEV-3: without CUDA a valid CUDA array gives the DEV-3 RuntimeError."""
    if astensor.device_count("cuda"):
        pytest.skip("this machine has CUDA: the DEV-3 case needs none")
    with pytest.raises(RuntimeError):
        astensor.as_tensor(CAI(_cai(stream=1, data=(0x10000, True))))


@pytest.mark.skipif(astensor.device_count("sim") == 0, reason="needs the sim backend")
@pytest.mark.parametrize("as_tensor", [astensor.as_tensor, astensor.reference.as_tensor], ids=["impl", "reference"])
def test_dlp1_extension_device_over_host_memory_is_refused(as_tensor):
    """The extension device type (12) reads as sim:N [ext], but another library may use it for
    its own device: bytes that are not that sim device's memory are refused (ValueError) before
    anything reads them, and the producer's deleter still runs once."""
    buf = np.arange(10, dtype=np.int32)
    p = Producer(buf, (10,), device=(12, 0))
    with pytest.raises(ValueError, match=r"extension device type \(12\).*not sim:0 memory"):
        as_tensor(p.capsule)
    gc.collect()
    assert p.calls == 1
    assert buf.tolist() == list(range(10))
