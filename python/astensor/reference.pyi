# Type stubs of astensor.reference: the reference implementation's entry point.
from ._astensor import Tensor, _DTypeLike, _DeviceLike, _StreamLike

def as_tensor(data: object, *, dtype: _DTypeLike | None = None, device: _DeviceLike | None = None,
              copy: bool | None = None, non_blocking: bool = False,
              stream: _StreamLike | None = None) -> Tensor: ...
