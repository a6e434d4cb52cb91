"""The Python Tensor as torch and NumPy users expect it (issue 13).

Scalar conversions (float/int/operator.index/bool/complex), reading t[...] as views, iteration,
len, size()/stride() (elements, torch's meaning) and .strides (bytes, NumPy's), .T, nbytes /
itemsize / element_size(), is_cuda, to()/cpu()/cuda()/clone()/contiguous()/detach(), repr (the
values as torch prints them), pickling, dtypes that NumPy understands and compares with, the
type stubs and the signatures. The tests that take the ``lib`` fixture run the same code
against torch too, so they check that astensor behaves as torch does.
"""

from __future__ import annotations

import ast
import inspect
import operator
import os
import pickle
import re
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import astensor

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

try:
    import ml_dtypes
except ImportError:  # pragma: no cover
    ml_dtypes = None

HAVE_SIM = astensor.device_count("sim") > 0
HAVE_CUDA = astensor.device_count("cuda") > 0


class Lib:
    """How to make a tensor from a NumPy array, for astensor and for torch."""

    def __init__(self, name):
        self.name = name
        self.ours = name == "astensor"

    def make(self, a, requires_grad=False):
        if self.ours:
            t = astensor.as_tensor(np.array(a, copy=True))
            if requires_grad:
                t.requires_grad = True
            return t
        t = torch.tensor(np.array(a, copy=True))
        if requires_grad:
            t.requires_grad_(True)
        return t

    def dtype(self, name):
        return getattr(astensor if self.ours else torch, name)

    def no_grad(self):
        return astensor.no_grad() if self.ours else torch.no_grad()


@pytest.fixture(params=["astensor", "torch"])
def lib(request):
    if request.param == "torch" and torch is None:
        pytest.skip("torch is not installed")
    return Lib(request.param)


def values(t) -> np.ndarray:
    """t's values on the host as a NumPy array (either library)."""
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t.cpu())


# --- scalar conversions -----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_one_element_to_python_scalars(lib, shape):
    """float(t), int(t), operator.index(t), bool(t), complex(t) read the one element."""
    f = lib.make(np.full(shape, -2.75))
    assert float(f) == -2.75 and type(float(f)) is float
    assert int(f) == -2 and type(int(f)) is int  # truncation, as int(-2.75)
    assert complex(f) == complex(-2.75)
    assert bool(f) is True and bool(lib.make(np.zeros(shape))) is False
    i = lib.make(np.full(shape, 7, dtype=np.int16))
    assert operator.index(i) == 7 and type(operator.index(i)) is int
    assert [10, 11, 12, 13, 14, 15, 16, 17][i] == 17  # usable as an index
    assert float(i) == 7.0 and int(i) == 7
    b = lib.make(np.full(shape, True))
    assert operator.index(b) == 1 and type(operator.index(b)) is int and int(b) == 1
    u = lib.make(np.full(shape, 2**63 + 5, dtype=np.uint64)) if lib.ours else None
    if u is not None:
        assert int(u) == 2**63 + 5  # no detour through double
    c = lib.make(np.full(shape, 1.5 + 0j))
    assert float(c) == 1.5 and complex(lib.make(np.full(shape, 1 - 2j))) == 1 - 2j


def test_scalar_conversion_errors(lib):
    """More than one element: ValueError (float/int/complex), RuntimeError (bool: ambiguous),
    TypeError (operator.index, also for float tensors), as torch; our messages name the shape."""
    t = lib.make(np.arange(6.0).reshape(2, 3))
    for fn in (float, int, complex):
        with pytest.raises(ValueError, match="only one element") as e:
            fn(t)
        if lib.ours:
            assert "(2, 3)" in str(e.value)
    with pytest.raises(RuntimeError, match="more than one value is ambiguous") as e:
        bool(t)
    if lib.ours:
        assert "(2, 3)" in str(e.value)
    with pytest.raises(RuntimeError, match="no values is ambiguous"):
        bool(lib.make(np.zeros((0,))))
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        operator.index(lib.make(np.array(3.0)))
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        operator.index(lib.make(np.array([3, 4])))
    with pytest.raises(RuntimeError):  # a nonzero imaginary part has no float value
        float(lib.make(np.array(1 + 2j)))
    with pytest.raises(ValueError):  # Python's own refusal
        int(lib.make(np.array(np.nan)))


def test_scalars_from_device_tensors():
    """The scalar conversions read device tensors too (one small copy)."""
    if not HAVE_SIM:
        pytest.skip("needs the sim backend")
    t = astensor.as_tensor([[2.5]], device="sim:0")
    assert float(t) == 2.5 and int(t) == 2 and bool(t) and complex(t) == 2.5


# --- reading t[...] ---------------------------------------------------------------------------

def test_getitem_ints_and_negative_ints(lib):
    a = np.arange(24.0).reshape(2, 3, 4)
    t = lib.make(a)
    assert np.array_equal(values(t[1]), a[1])
    assert np.array_equal(values(t[-1, -2]), a[-1, -2])
    assert float(t[1, 2, 3]) == a[1, 2, 3] and t[1, 2, 3].ndim == 0
    with pytest.raises(IndexError, match="out of bounds"):
        t[2]
    with pytest.raises(IndexError, match="out of bounds"):
        t[0, -4]
    with pytest.raises(IndexError):
        t[1.0]
    with pytest.raises(IndexError):
        lib.make(np.array(1.0))[0]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        t[::-1]


def test_getitem_is_a_view_sharing_memory(lib):
    """t[i] and slices share memory: a write through the base shows in the view, the data
    pointer is the base's plus the offset, and the strides are the base's (times the step)."""
    t = lib.make(np.arange(12, dtype=np.int32).reshape(3, 4))
    row, col = t[1], t[:, 1::2]
    assert row.data_ptr() == t.data_ptr() + 4 * 4
    assert col.data_ptr() == t.data_ptr() + 1 * 4 and col.stride() == (4, 2)
    t[1, 0] = 100
    t[2, 3] = 200
    assert int(row[0]) == 100 and values(col).tolist() == [[1, 3], [5, 7], [9, 200]]
    if lib.ours:  # the read-only flag belongs to the memory, so views keep it (ARR-7)
        ro = np.arange(4.0)
        ro.flags.writeable = False
        v = astensor.as_tensor(ro)[1:]
        assert v.is_read_only
        with pytest.raises(ValueError):
            v[0] = 1.0


_bound = st.none() | st.integers(-5, 5)
_slices = st.builds(slice, _bound, _bound, st.none() | st.integers(1, 3) | st.just(-1))
_keys = st.lists(st.one_of(st.integers(-4, 3), _slices, st.none(), st.just(Ellipsis)),
                 max_size=4)


@given(key=_keys)
@example(key=[slice(1, 3)])
@example(key=[1, slice(1, None), None])
@example(key=[Ellipsis, slice(2, None, 2)])
@example(key=[None, -1, Ellipsis, 1])
def test_getitem_matches_numpy(lib, key):
    """Any key of ints, slices (positive steps), None and one Ellipsis reads what NumPy's
    indexing reads (values and shape); a bad key fails as NumPy does (IndexError), a
    negative step with ValueError (torch's refusal)."""
    a = np.arange(48).reshape(4, 3, 4)
    t = lib.make(a)
    key = tuple(key)
    if key.count(Ellipsis) > 1 and not lib.ours:
        return  # torch reads a second '...' as nothing; NumPy and astensor refuse it
    if any(isinstance(k, slice) and k.step is not None and k.step < 0 for k in key):
        with pytest.raises((ValueError, IndexError)):  # whichever item is checked first
            t[key]
        return
    try:
        want = a[key]
    except IndexError:
        with pytest.raises(IndexError):
            t[key]
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = t[key]
    assert tuple(got.shape) == want.shape
    assert np.array_equal(values(got), want)


def test_iteration_and_len(lib):
    a = np.arange(6.0).reshape(3, 2)
    t = lib.make(a)
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and all(np.array_equal(values(r), a[i]) for i, r in enumerate(rows))
    assert rows[2].data_ptr() == t.data_ptr() + 2 * 2 * 8  # views, not copies
    assert [float(x) for x in lib.make(np.array([1.5, 2.5]))] == [1.5, 2.5]
    assert list(lib.make(np.zeros((0, 2)))) == []
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(lib.make(np.array(1.0)))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(lib.make(np.array(1.0)))


def test_views_and_autograd():
    """Views carry no autograd history here: making one of a tensor that requires grad is
    refused (RuntimeError naming detach()) instead of silently cutting the graph; allowed under
    no_grad() and after detach()."""
    t = astensor.as_tensor([1.0, 2.0, 3.0])
    t.requires_grad = True
    with pytest.raises(RuntimeError, match="detach"):
        t[0]
    with pytest.raises(RuntimeError, match="detach"):
        list(t)
    with astensor.no_grad():
        assert float(t[1]) == 2.0 and not t[1].requires_grad
    d = t.detach()
    assert not d.requires_grad and d.data_ptr() == t.data_ptr() and float(d[2]) == 3.0
    assert "requires_grad=True" in repr(t)  # printing works on such tensors


# --- layout -----------------------------------------------------------------------------------

def test_size_stride_and_numpy_strides(lib):
    """size()/stride() as torch (stride in elements, negative dims, IndexError out of range);
    .strides is NumPy's meaning, bytes (astensor; torch has no .strides)."""
    t = lib.make(np.zeros((2, 3, 4), dtype=np.float32))[:, :, ::2]
    assert tuple(t.size()) == (2, 3, 2) and t.size(0) == 2 and t.size(-1) == 2
    assert tuple(t.stride()) == (12, 4, 2) and t.stride(1) == 4 and t.stride(-3) == 12
    with pytest.raises(IndexError):
        t.size(3)
    with pytest.raises(IndexError):
        t.stride(-4)
    with pytest.raises(IndexError):
        lib.make(np.array(1.0)).size(0)
    with pytest.raises(TypeError):
        t.size(1.0)
    if lib.ours:
        assert t.strides == (48, 16, 8)  # bytes
        n = np.asarray(t)
        assert n.strides == t.strides
        assert astensor.as_tensor(n).stride() == (12, 4, 2)


def test_transpose_T(lib):
    """.T: a 2-d tensor's dims swapped (a view); 0-d and 1-d unchanged; above 2 dims all dims
    reversed (NumPy's .T; torch does the same with a deprecation warning)."""
    a = np.arange(6.0).reshape(2, 3)
    t = lib.make(a)
    tt = t.T
    assert np.array_equal(values(tt), a.T) and tuple(tt.stride()) == (1, 3)
    assert tt.data_ptr() == t.data_ptr()
    assert np.array_equal(values(lib.make(np.arange(3.0)).T), np.arange(3.0))
    b = np.arange(24.0).reshape(2, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(values(lib.make(b).T), b.T)
        assert float(lib.make(np.array(2.0)).T) == 2.0


@pytest.mark.parametrize("name,size", [("bool", 1), ("int16", 2), ("float32", 4),
                                       ("float64", 8), ("complex128", 16)])
def test_nbytes_itemsize_element_size(lib, name, size):
    t = lib.make(np.zeros((3, 5), dtype=name))[:, ::2]
    assert t.element_size() == size and t.itemsize == size
    assert t.nbytes == 3 * 3 * size  # the elements, not the storage
    assert t.is_cuda is False


# --- copies and moves -------------------------------------------------------------------------

def test_to_dtype_device_and_identity(lib):
    a = np.arange(6.0).reshape(2, 3)
    t = lib.make(a)
    assert t.to(lib.dtype("float64")) is t and t.to("cpu") is t and t.cpu() is t  # TEN-1
    i = t.to(lib.dtype("int32"))
    assert str(i.dtype).endswith("int32") and np.array_equal(values(i), a.astype(np.int32))
    f = t.to(device="cpu", dtype=lib.dtype("float32"))
    assert str(f.dtype).endswith("float32") and str(f.device) == "cpu"
    assert t.to("cpu", lib.dtype("float32")).dtype == f.dtype
    assert t.to(i).dtype == i.dtype  # to(other): other's dtype and device
    c = t.to(lib.dtype("float64"), copy=True)
    assert c is not t and c.data_ptr() != t.data_ptr()
    assert t.to(lib.dtype("float32"), non_blocking=True).dtype == f.dtype


def test_to_keeps_the_device_under_a_default_device():
    """to(dtype) changes only the dtype: the default device (DEV-1) is for new data."""
    if not HAVE_SIM:
        pytest.skip("needs the sim backend")
    t = astensor.as_tensor([1.0, 2.0])
    astensor.set_default_device("sim:0")
    assert str(t.to(astensor.float64).device) == "cpu"
    assert str(t.clone().device) == "cpu"


def test_to_sim_and_back():
    if not HAVE_SIM:
        pytest.skip("needs the sim backend")
    a = np.arange(12.0).reshape(3, 4)
    t = astensor.as_tensor(a)
    s = t.to("sim:0")
    assert str(s.device) == "sim:0" and not s.is_cpu and not s.is_cuda
    s1 = t.to(device=astensor.Device("sim:1") if astensor.device_count("sim") > 1 else "sim:0",
              dtype="f4")
    assert s1.dtype == astensor.float32
    assert np.array_equal(s.cpu().numpy(), a) and np.array_equal(s1.cpu().numpy(), a.astype("f4"))
    assert s.to("sim:0") is s
    with pytest.raises(ValueError):
        t.cuda("sim:0")


def test_cuda_without_cuda_names_the_reason(lib):
    if HAVE_CUDA or (not lib.ours and torch.cuda.is_available()):
        t = lib.make(np.arange(3.0)).cuda()
        assert t.is_cuda and np.array_equal(values(t), np.arange(3.0))
        return
    with pytest.raises(RuntimeError) as e:
        lib.make(np.arange(3.0)).cuda()
    if lib.ours:
        assert "cuda is not available" in str(e.value)


def test_clone_contiguous_detach(lib):
    a = np.arange(12.0).reshape(3, 4)
    t = lib.make(a)
    c = t.clone()
    assert c.data_ptr() != t.data_ptr() and np.array_equal(values(c), a)
    c[0, 0] = -1.0
    assert float(t[0, 0]) == 0.0
    tt = t.T
    assert tuple(tt.clone().stride()) == (1, 4)  # dense layout kept (TEN-3 / torch's preserve)
    assert t.contiguous() is t
    k = tt.contiguous()
    assert k.is_contiguous() and tuple(k.stride()) == (3, 1) and np.array_equal(values(k), a.T)
    g = t[:, ::2].contiguous()
    assert tuple(g.stride()) == (2, 1) and np.array_equal(values(g), a[:, ::2])
    d = lib.make(a, requires_grad=True).detach()
    assert not d.requires_grad


def test_contiguous_on_a_device():
    if not HAVE_SIM:
        pytest.skip("needs the sim backend")
    a = np.arange(12.0).reshape(3, 4)
    s = astensor.as_tensor(a.T, device="sim:0")  # TEN-3: the copy keeps the transposed order
    assert not s.is_contiguous()
    k = s.contiguous()
    assert str(k.device) == "sim:0" and k.is_contiguous() and np.array_equal(k.cpu().numpy(), a.T)


def test_clone_is_recorded_for_autograd():
    t = astensor.as_tensor([1.0, 2.0])
    t.requires_grad = True
    c = t.clone()
    assert c.requires_grad and c.grad_fn is not None


# --- repr -------------------------------------------------------------------------------------

REPR_CASES = [
    np.arange(6, dtype=np.int32).reshape(2, 3),
    np.array([1.5, 2.25, -3.0]),
    np.array([1.5, 2.25, -3.0], dtype=np.float32),
    np.array([1.0, 2.0, -30.0], dtype=np.float32),
    np.array([1e-5, 1.0, 3e6]),
    np.array([1e10, 1.0], dtype=np.float32),
    np.array([np.nan, np.inf, -np.inf, 0.0, 1.5], dtype=np.float32),
    np.array([0.0, -0.0], dtype=np.float32),
    np.array([1 + 2j, 3 - 0.5j, -1e-6j], dtype=np.complex64),
    np.array(2.5 - 1j),
    np.array(True),
    np.array([True, False]),
    np.array(7, dtype=np.int64),
    np.arange(-5, 5, dtype=np.int8),
    np.arange(100, dtype=np.float32) / 7,
    np.arange(2000.0).reshape(40, 50),
    np.arange(3000, dtype=np.int16).reshape(10, 3, 100),
    np.zeros((0,), dtype=np.float32),
    np.zeros((0, 3)),
    np.zeros((2, 0), dtype=np.int64),
    np.array([1.0, 2.0], dtype=np.float16),
    np.array([[1, 2], [3, 4]], dtype=np.uint8),
]


def _torch_repr(t) -> str:
    return repr(t).replace("torch.", "astensor.")


def _joined(s: str) -> str:
    """A repr with its suffixes on the values' last line: 'astensor.int32' is longer than
    'torch.int32', so the same 80-column rule may move a suffix to its own line in one of
    them only."""
    return re.sub(r",\n +(?=(device|dtype|size|requires_grad|grad_fn|read_only)=)", ", ", s)


@pytest.mark.skipif(torch is None, reason="compares with torch's printing")
@pytest.mark.parametrize("a", REPR_CASES, ids=lambda a: f"{a.dtype}{a.shape}")
def test_repr_prints_values_as_torch(a):
    """repr(t) is torch's repr with 'torch.' read 'astensor.' (values, widths, scientific
    notation, abbreviation of big tensors, line wrapping, dtype/size suffixes)."""
    assert _joined(repr(astensor.as_tensor(a))) == _joined(_torch_repr(torch.as_tensor(a)))


@pytest.mark.skipif(torch is None, reason="compares with torch's printing")
@given(a=hnp.arrays(st.sampled_from([np.dtype(n) for n in ("float32", "float64", "int32", "uint8",
                                                           "int64", "bool", "complex128")]),
                    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=12)))
def test_repr_prints_values_as_torch_any_array(a):
    assert _joined(repr(astensor.as_tensor(a))) == _joined(_torch_repr(torch.as_tensor(a)))


@pytest.mark.skipif(torch is None, reason="compares with torch's printing")
def test_repr_suffixes_as_torch():
    """requires_grad, bfloat16 and a float64 default dtype print as torch prints them; device
    and read-only are ours ('sim:0', read_only=True)."""
    t = astensor.as_tensor([1.0, 2.5])
    t.requires_grad = True
    assert repr(t) == _torch_repr(torch.tensor([1.0, 2.5], requires_grad=True))
    bf = astensor.as_tensor([1.0, 2.5, 3.0], dtype=astensor.bfloat16)
    assert repr(bf) == _torch_repr(torch.tensor([1.0, 2.5, 3.0], dtype=torch.bfloat16))
    astensor.set_default_dtype(astensor.float64)
    torch.set_default_dtype(torch.float64)
    for a in (np.array([1.5, 2.0]), np.array([1.5, 2.0], dtype=np.float32), np.array([1j])):
        assert repr(astensor.as_tensor(a)) == _torch_repr(torch.as_tensor(a))
    ro = np.arange(3.0)
    ro.flags.writeable = False
    assert repr(astensor.as_tensor(ro)) == "tensor([0., 1., 2.], read_only=True)"
    if HAVE_SIM:
        s = astensor.as_tensor(np.arange(3, dtype=np.int32), device="sim:0")
        assert repr(s) == "tensor([0, 1, 2], device='sim:0', dtype=astensor.int32)"
        big = astensor.as_tensor(np.arange(5000.0), device="sim:0")
        assert repr(big) == _torch_repr(torch.arange(5000.0))[:-1] + ", device='sim:0')"


# --- pickling ---------------------------------------------------------------------------------

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
          "float16", "bfloat16", "float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("name", DTYPES)
def test_pickle_round_trip(name):
    """CPU tensors pickle: dtype, shape and values (bit for bit) come back; a strided source
    comes back C-contiguous and writable."""
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 256, size=(3, 8, 16), dtype=np.uint8)
    t = astensor.as_tensor(raw, dtype=astensor.uint8)
    base = astensor.as_tensor(rng.standard_normal((4, 6)) * 100, dtype=getattr(astensor, name))
    for src in (base, base.T, base[1:, ::2], base[2, 3]):
        back = pickle.loads(pickle.dumps(src))
        assert back.dtype == src.dtype and tuple(back.shape) == tuple(src.shape)
        assert back.is_contiguous() and not back.is_read_only
        same = src.tolist() == back.tolist() or (
            name.startswith(("float", "bfloat", "complex")) and
            np.array_equal(np.asarray(src.tolist()), np.asarray(back.tolist()), equal_nan=True))
        assert same
    assert t.ndim == 3


def test_pickle_requires_grad_and_refusals():
    t = astensor.as_tensor([1.0, 2.0])
    t.requires_grad = True
    back = pickle.loads(pickle.dumps(t))
    assert back.requires_grad and back.is_leaf and back.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="non-leaf"):
        pickle.dumps(t.to(astensor.float64))
    if HAVE_SIM:
        with pytest.raises(TypeError, match="sim:0.*t.cpu"):
            pickle.dumps(astensor.as_tensor([1.0], device="sim:0"))
    rebuild = astensor._astensor._rebuild_tensor
    with pytest.raises(ValueError):
        rebuild(b"\0" * 7, "float32", (2,), False)
    with pytest.raises(ValueError):  # a hostile shape whose byte count wraps to 0
        rebuild(b"", "complex128", (2**30, 2**30), False)
    with pytest.raises(ValueError):
        rebuild(b"", "float32", (-1, 0), False)
    with pytest.raises(ValueError):
        rebuild(b"", "float33", (0,), False)


def test_pickle_round_trip_torch_too(lib):
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    back = pickle.loads(pickle.dumps(lib.make(a).T))
    assert np.array_equal(values(back), a.T) and str(back.dtype).endswith("int32")


# --- dtypes and NumPy -------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in DTYPES if n != "bfloat16"])
def test_dtype_is_understood_by_numpy(name):
    d = getattr(astensor, name)
    assert np.dtype(d) == np.dtype(name)
    assert d == np.dtype(name) and np.dtype(name) == d
    assert d == np.dtype(name).type and np.dtype(name).type == d
    assert d == name and not (d != name)
    assert np.zeros(2, dtype=d).dtype == np.dtype(name)
    others = [n for n in DTYPES if n not in (name, "bfloat16")]
    assert all(d != np.dtype(o) and d != getattr(astensor, o) for o in others)
    assert d != None and d != 3 and d != "not a dtype"  # noqa: E711
    assert {d: 1}[getattr(astensor, name)] == 1
    if torch is not None:
        assert d == getattr(torch, name)


def test_bfloat16_numpy_dtype():
    if ml_dtypes is None:
        with pytest.raises(TypeError):
            np.dtype(astensor.bfloat16)
    else:
        assert np.dtype(astensor.bfloat16) == np.dtype(ml_dtypes.bfloat16)


@pytest.mark.parametrize("spelling", ["f4", "<f4", "double", "float", "int", "complex", "half",
                                      "single", "long", "?", "b", "B", "h", "H", "i", "I", "l",
                                      "L", "q", "Q", "e", "f", "d", "F", "D", "i8", "u2", "c16",
                                      "float32", "bool", "bfloat16", "int64"])
def test_dtype_strings_parse_as_numpy(spelling):
    """A dtype string means what NumPy makes of it ('float' and 'int' are NumPy's float64 and
    int64; torch takes no strings); our own names (bfloat16) keep working."""
    got = astensor.as_tensor([1], dtype=spelling).dtype
    if spelling == "bfloat16":
        assert got == astensor.bfloat16
    else:
        assert np.dtype(got) == np.dtype(spelling)
        assert got == spelling


# --- signatures, docstrings, stubs ------------------------------------------------------------

def test_signatures_and_docstrings():
    for fn in (astensor.as_tensor, astensor.explain, astensor.reference.as_tensor):
        sig = inspect.signature(fn)
        assert list(sig.parameters) == ["data", "dtype", "device", "copy"]
        p = sig.parameters
        assert p["data"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert all(p[k].kind is inspect.Parameter.KEYWORD_ONLY and p[k].default is None
                   for k in ("dtype", "device", "copy"))
    doc = astensor.as_tensor.__doc__
    assert "Example" in doc and "TEN-1" in doc and ">>> t = astensor.as_tensor(a)" in doc
    import pydoc
    text = pydoc.render_doc(astensor.as_tensor, renderer=pydoc.plaintext)
    assert "as_tensor(data, *, dtype=None, device=None, copy=None)" in text
    assert "bytes" in astensor.Tensor.__doc__
    assert "bytes" in astensor.Tensor.strides.__doc__.lower() and "ELEMENTS" in astensor.Tensor.stride.__doc__


def _stub_names(path, imports=False):
    """The names a stub defines (classes, functions, annotated variables), and with
    imports=True the names it re-exports ('from x import y as y')."""
    tree = ast.parse(open(path).read())
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            out[node.target.id] = node
        elif imports and isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.asname == a.name:
                    out[a.name] = node
    return out


def test_type_stubs_cover_the_module():
    """py.typed and the stubs ship next to the module; every public name of the compiled
    module, the package and the Tensor class is in the stubs, and every stub name exists."""
    pkg = os.path.dirname(astensor.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    mod = _stub_names(os.path.join(pkg, "_astensor.pyi"))
    runtime = {n for n in dir(astensor._astensor) if not n.startswith("__")}
    public = {n for n in runtime if not n.startswith("_")}  # test hooks may stay unstubbed
    assert public - set(mod) == set(), "missing from _astensor.pyi"
    assert set(mod) - runtime == set(), "stubbed, not there"
    init = _stub_names(os.path.join(pkg, "__init__.pyi"), imports=True)
    assert set(astensor.__all__) - set(init) == set() and "bool" in init
    cls = mod["Tensor"]
    stubbed = {n.name for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    public = {n for n in dir(astensor.Tensor) if not n.startswith("_")}
    assert public - stubbed == set() and {n for n in stubbed if not n.startswith("_")} - public == set()
    for name in ("__getitem__", "__iter__", "__float__", "__index__", "__bool__", "__reduce__"):
        assert name in stubbed and hasattr(astensor.Tensor, name)
