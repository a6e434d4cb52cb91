"""Implementation adapters: one suite, several implementations under test.

Each adapter says how to call its ``as_tensor`` and how to read the result (dtype name, device,
shape, strides in elements, data pointer, values as a NumPy array, read-only flag, autograd
state), and lists the SPEC ``[ext]`` rules where that implementation diverges on purpose, with
the reason. A test of such a rule calls ``adapter.diverges(rule)``, which xfails it for that
adapter with the reason (the rule is still checked for the others).
"""

from __future__ import annotations

import contextlib
import re

import numpy as np

import astensor

try:  # torch is optional: its adapter is skipped with a reason when it is missing
    import torch
except ImportError:  # pragma: no cover - exercised only where torch is absent
    torch = None

try:
    import ml_dtypes
except ImportError:  # pragma: no cover
    ml_dtypes = None

import pytest

DTYPE_NAMES = [
    "bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
]


def numpy_dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        if ml_dtypes is None:
            pytest.skip("bfloat16 needs ml_dtypes, which is not installed")
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


class Adapter:
    """The interface every adapter implements."""

    name = "?"
    #: rule id -> why this implementation deliberately differs from SPEC.md
    divergences: dict[str, str] = {}
    supports_copy_kw = True
    has_read_only = True

    def diverges(self, *rules: str) -> None:
        """The whole test checks a rule this implementation diverges on: xfail it."""
        for rule in rules:
            if rule in self.divergences:
                pytest.xfail(f"{self.name} diverges on {rule}: {self.divergences[rule]}")

    def diverges_here(self, *rules: str) -> None:
        """This generated example hits a divergence: drop the example (the adapter documents
        the rule); the property is still checked on the other examples."""
        for rule in rules:
            if rule in self.divergences:
                from hypothesis import reject
                reject()

    def __repr__(self) -> str:
        return f"<adapter {self.name}>"


class AstensorAdapter(Adapter):
    has_read_only = True

    def __init__(self, name: str, fn):
        self.name = name
        self.fn = fn
        self.divergences = {}

    # calls
    def as_tensor(self, data, **kw):
        return self.fn(data, **kw)

    def dtype(self, name: str):
        return astensor.bool_ if name == "bool" else getattr(astensor, name)

    def set_default_dtype(self, name: str):
        astensor.set_default_dtype(self.dtype(name))

    def get_default_dtype_name(self) -> str:
        return astensor.get_default_dtype().name

    def no_grad(self):
        return astensor.no_grad()

    def make_tensor(self, arr: np.ndarray, requires_grad: bool = False):
        """A fresh, writable tensor holding arr's values (its own memory)."""
        t = astensor.as_tensor(np.array(arr, copy=True))
        if requires_grad:
            t.requires_grad = True
        return t

    def is_tensor(self, x) -> bool:
        return isinstance(x, astensor.Tensor)

    # reading
    def dtype_name(self, t) -> str:
        return t.dtype.name

    def device_str(self, t) -> str:
        return str(t.device)

    def shape(self, t) -> tuple:
        return tuple(t.shape)

    def strides(self, t) -> tuple:
        return tuple(t.stride())  # torch's meaning, in elements (t.strides is bytes)

    def data_ptr(self, t) -> int:
        return t.data_ptr()

    def values(self, t) -> np.ndarray:
        if str(t.device) != "cpu":
            t = astensor.reference.as_tensor(t, device="cpu")
        return np.array(t.numpy(), copy=True)

    def host_array(self, t) -> np.ndarray:
        """A NumPy array SHARING t's memory (for np.shares_memory)."""
        return t.numpy()

    def is_read_only(self, t):
        return t.is_read_only

    def requires_grad(self, t) -> bool:
        return t.requires_grad

    def is_leaf(self, t) -> bool:
        return t.is_leaf

    def grad_fn_name(self, t):
        return None if t.grad_fn is None else t.grad_fn.name()

    def grad_values(self, t):
        return None if t.grad is None else self.values(t.grad)

    def set_requires_grad(self, t, flag: bool):
        t.requires_grad = flag

    def backward(self, t, grad: np.ndarray):
        t.backward(grad)

    # writing
    def write_first(self, t, value):
        t[(0,) * len(t.shape)] = value


#: SPEC [ext] rules where PyTorch differs on purpose, and why (research/torch-as-tensor-notes.md).
TORCH_DIVERGENCES = {
    "ARG-1": "torch.as_tensor has no copy= keyword (copy is [ext])",
    "ARG-2": "torch accepts only torch.dtype and the Python types float/int/bool for dtype=; "
             "names, NumPy dtypes and complex raise",
    "ARG-3": "torch raises RuntimeError (not ValueError) for a malformed device string",
    "ARG-4": "torch raises RuntimeError 'Could not infer dtype' for None, dict, set and "
             "arbitrary objects, not TypeError",
    "ARR-3": "torch raises ValueError for negative strides ('At least one stride ... is negative')",
    "ARR-4": "torch raises ValueError for non-native byte order instead of copying",
    "ARR-5": "torch raises ValueError for strides that are not multiples of the item size",
    "ARR-7": "torch has no read-only tensors: it shares, warns once and lets writes through",
    "ARR-8": "torch copies buffer objects element by element (array('d') becomes float32)",
    "ARR-9": "torch raises for objects with only __array_interface__ / __array__",
    "ARR-10": "torch raises TypeError for NumPy object arrays",
    "SEQ-2": "torch returns shape (2, 0) for the ragged [[], [1]] (it skips storing when numel == 0)",
    "SEQ-4": "torch raises for multi-element tensor leaves and unpacks ndarray leaves one by one",
    "SEQ-5": "torch wraps small negatives into unsigned dtypes and raises RuntimeError, not "
             "OverflowError, for out-of-range values",
    "SEQ-6": "torch reports deep / self-referential nesting and huge ints with other error kinds "
             "(ValueError 'too many dimensions', TypeError, RuntimeError 'Overflow when unpacking "
             "long'), walks bytes leaves as sequences, and has no index path in its messages",
    "CAI-3": "torch ignores the CAI stream field",
    "CAI-4": "torch raises for read-only CAI data",
    "DLP-1": "torch.as_tensor does not accept raw DLPack capsules",
    "COPY-1": "torch.as_tensor has no copy= keyword",
    "COPY-2": "torch has no explain()",
    "DEV-2": "torch treats cpu:0 as different from cpu and copies",
    "DT-3": "torch leaves out-of-range float->int casts undefined (we saturate)",
    "DT-1-ml_dtypes": "torch cannot read ml_dtypes' bfloat16 NumPy arrays (a NumPy user dtype)",
    "TEN-3-order": "torch's copy of a source that is not dense (gaps, broadcast or "
                   "overlapping strides) keeps the source's stride order (empty_like's "
                   "preserve_format); TEN-3 makes it C-contiguous. Found by Hypothesis, 2026-12-04",
    "SEQ-3-npbool": "torch 2.x raises TypeError ('numpy.bool' object cannot be interpreted as an "
                    "integer) when np.bool_ leaves meet Python or NumPy ints ([0, np.False_]); "
                    "found by Hypothesis on 2026-12-04",
    "SEQ-1-uint64": "torch 2.x fails on np.uint64 scalars ('an integer is required'); uint64 "
                    "arrays work",
    "SEQ-3-complex-half": "torch maps complex under a float16 default to complex32, which we lack",
}


class TorchAdapter(Adapter):
    name = "torch"
    supports_copy_kw = False
    has_read_only = False

    def __init__(self):
        self.divergences = dict(TORCH_DIVERGENCES)

    def as_tensor(self, data, **kw):
        if "copy" in kw:
            pytest.xfail("torch diverges on COPY-1: " + self.divergences["COPY-1"])
        return torch.as_tensor(data, **kw)

    def dtype(self, name: str):
        return getattr(torch, name)

    def set_default_dtype(self, name: str):
        torch.set_default_dtype(self.dtype(name))

    def get_default_dtype_name(self) -> str:
        return str(torch.get_default_dtype()).removeprefix("torch.")

    def no_grad(self):
        return torch.no_grad()

    def make_tensor(self, arr: np.ndarray, requires_grad: bool = False):
        if arr.dtype == numpy_dtype("bfloat16"):
            t = torch.tensor(arr.astype(np.float32)).to(torch.bfloat16)
        else:
            t = torch.tensor(arr)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def is_tensor(self, x) -> bool:
        return isinstance(x, torch.Tensor)

    def dtype_name(self, t) -> str:
        return str(t.dtype).removeprefix("torch.")

    def device_str(self, t) -> str:
        return str(t.device)

    def shape(self, t) -> tuple:
        return tuple(t.shape)

    def strides(self, t) -> tuple:
        return tuple(t.stride())

    def data_ptr(self, t) -> int:
        return t.data_ptr()

    def values(self, t) -> np.ndarray:
        t = t.detach().cpu()
        if t.dtype == torch.bfloat16:
            return t.view(torch.uint16).numpy().copy().view(numpy_dtype("bfloat16"))
        return t.numpy().copy()

    def host_array(self, t) -> np.ndarray:
        t = t.detach()
        if t.dtype == torch.bfloat16:
            return t.view(torch.uint16).numpy().view(numpy_dtype("bfloat16"))
        return t.numpy()

    def is_read_only(self, t):
        return None  # torch has no read-only tensors (ARR-7 divergence)

    def requires_grad(self, t) -> bool:
        return t.requires_grad

    def is_leaf(self, t) -> bool:
        return t.is_leaf

    def grad_fn_name(self, t):
        # torch names it ToCopyBackward0; the trailing number is an overload counter.
        return None if t.grad_fn is None else re.sub(r"\d+$", "", t.grad_fn.name())

    def grad_values(self, t):
        return None if t.grad is None else self.values(t.grad)

    def set_requires_grad(self, t, flag: bool):
        t.requires_grad_(flag)

    def backward(self, t, grad: np.ndarray):
        t.backward(torch.as_tensor(grad))

    def write_first(self, t, value):
        with torch.no_grad():
            t[(0,) * t.dim()] = value


def all_adapters():
    """pytest params: reference, impl, torch (skipped with a reason when missing)."""
    params = [
        pytest.param(AstensorAdapter("reference", astensor.reference.as_tensor), id="reference"),
        pytest.param(AstensorAdapter("impl", astensor.as_tensor), id="impl"),
    ]
    if torch is not None:
        params.append(pytest.param(TorchAdapter(), id="torch"))
    else:
        params.append(pytest.param(None, id="torch", marks=pytest.mark.skip(
            reason="torch is not installed (pip install torch to run the torch adapter)")))
    return params


@contextlib.contextmanager
def default_dtype(adapter, name: str):
    old = adapter.get_default_dtype_name()
    adapter.set_default_dtype(name)
    try:
        yield
    finally:
        adapter.set_default_dtype(old)
