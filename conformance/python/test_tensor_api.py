"""The Python Tensor as torch and NumPy users expect it (issue 13): behaviour (API-1).

Scalar conversions (float/int/operator.index/bool/complex), reading t[...] as views, iteration,
len, size()/stride() (elements, torch's meaning) and .strides (bytes, NumPy's), .T, nbytes /
itemsize / element_size(), is_cuda, to()/cpu()/cuda()/clone()/contiguous()/detach(). The
tests that take the ``lib`` fixture (tensor_api_util.py) run the same code against torch too,
so they check that astensor behaves as torch does. How tensors present themselves (repr,
pickling, dtypes, signatures, stubs: API-2..5) is test_tensor_presentation.py.
"""


from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import astensor
from tensor_api_util import HAVE_CUDA, HAVE_SIM, lib, values  # noqa: F401 (lib: fixture)

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

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
