# Type stubs of the astensor package: the compiled module's names (_astensor.pyi), re-exported.
import builtins

from . import reference as reference
from ._astensor import (
    Device as Device,
    GradFn as GradFn,
    Stream as Stream,
    Tensor as Tensor,
    as_tensor as as_tensor,
    bfloat16 as bfloat16,
    bool_ as bool_,
    complex64 as complex64,
    complex128 as complex128,
    device_count as device_count,
    dtype as dtype,
    explain as explain,
    float16 as float16,
    float32 as float32,
    float64 as float64,
    get_default_device as get_default_device,
    get_default_dtype as get_default_dtype,
    int8 as int8,
    int16 as int16,
    int32 as int32,
    int64 as int64,
    is_grad_enabled as is_grad_enabled,
    no_grad as no_grad,
    set_default_device as set_default_device,
    set_default_dtype as set_default_dtype,
    uint8 as uint8,
    uint16 as uint16,
    uint32 as uint32,
    uint64 as uint64,
)

bool: dtype  # astensor.bool, as torch.bool (shadows the builtin inside this module only)
__version__: str
HAVE_IMPL: builtins.bool
__all__: list[str]
