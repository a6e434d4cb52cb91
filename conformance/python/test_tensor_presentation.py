"""The Python Tensor as torch and NumPy users expect it (issue 13): presentation (API-2..5).

repr (the values as torch prints them), pickling, dtypes that NumPy understands and compares
with, the signatures and docstrings, the type stubs. Behaviour (API-1) is test_tensor_api.py.
"""

from __future__ import annotations

import ast
import inspect
import os
import pickle
import re

import numpy as np
import pytest
from hypothesis import given
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

from tensor_api_util import HAVE_SIM, lib, values  # noqa: F401 (lib: fixture)


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
        assert list(sig.parameters) == ["data", "dtype", "device", "copy", "non_blocking", "stream"]
        p = sig.parameters
        assert p["data"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert all(p[k].kind is inspect.Parameter.KEYWORD_ONLY and p[k].default is None
                   for k in ("dtype", "device", "copy", "stream"))
        assert p["non_blocking"].kind is inspect.Parameter.KEYWORD_ONLY and p["non_blocking"].default is False
    doc = astensor.as_tensor.__doc__
    assert "Example" in doc and "TEN-1" in doc and ">>> t = astensor.as_tensor(a)" in doc
    import pydoc
    text = pydoc.render_doc(astensor.as_tensor, renderer=pydoc.plaintext)
    assert "as_tensor(data, *, dtype=None, device=None, copy=None, non_blocking=False, stream=None)" in text
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
