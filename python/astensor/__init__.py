"""astensor: ``as_tensor`` done carefully.

Convert tensors, NumPy arrays, DLPack / CUDA-array-interface objects, buffers, Python scalars
and nested sequences into a tensor, sharing memory when it can and copying when it must. The
rules (with IDs such as ARR-1) are in SPEC.md.

    >>> import astensor, numpy as np
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> t = astensor.as_tensor(a)            # shares a's memory (ARR-1)
    >>> np.shares_memory(np.asarray(t), a)
    True

``astensor.as_tensor`` runs the optimized implementation when the build has it, else the
reference; ``astensor.reference.as_tensor`` always runs the reference.
"""

from . import _astensor
from ._astensor import (  # noqa: F401
    Device,
    GradFn,
    Stream,
    Tensor,
    as_tensor,
    bfloat16,
    bool_,
    complex64,
    complex128,
    device_count,
    dtype,
    explain,
    float16,
    float32,
    float64,
    get_default_device,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    is_grad_enabled,
    no_grad,
    set_default_device,
    set_default_dtype,
    uint8,
    uint16,
    uint32,
    uint64,
)

__version__ = "0.1.0"
HAVE_IMPL = bool(_astensor._have_impl)

from . import reference  # noqa: E402,F401

# `astensor.bool` mirrors torch.bool / numpy.bool. Set last: it shadows the builtin here.
globals()["bool"] = _astensor.bool_

__all__ = [
    "Device", "GradFn", "Stream", "Tensor", "as_tensor", "explain", "dtype", "device_count",
    "get_default_device", "get_default_dtype", "set_default_device", "set_default_dtype",
    "is_grad_enabled", "no_grad", "reference", "HAVE_IMPL",
    "bool_", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
]
