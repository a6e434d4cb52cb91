"""XFER-3: the optimized implementation equals the reference on every generated input:
values bit for bit, dtype, shape, strides, device, sharing, read-only, autograd, error kind.

Until impl/ lands, astensor.as_tensor runs the reference and this suite checks the harness
itself; it becomes the real differential check once the module is built with astensor_impl."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import astensor
import strategies as S
from helpers import bits, data_start

REF = astensor.reference.as_tensor
IMPL = astensor.as_tensor


@st.composite
def tensor_inputs(draw):
    a = draw(S.views(S.arrays(dtypes=S.numpy_dtypes(names=["float32", "float64", "int32", "bool"],
                                                    byteorders=("=",)))))
    t = astensor.as_tensor(a)
    if t.dtype.is_floating_point and draw(st.booleans()):
        t = astensor.as_tensor(a, copy=True)
        t.requires_grad = True
    return t


inputs = st.one_of(
    S.views(),
    S.readonly_arrays(),
    S.nested_sequences().map(lambda c: c[0]),
    S.nested_from_arrays().map(lambda c: c[0]),
    S.ragged_sequences(),
    S.bad_sequences(),
    S.buffer_objects().map(lambda c: c[0]),
    S.dlpack_producers().map(lambda c: c[0]),
    S.numpy_scalars(),
    S.scalar_leaves(("bool", "int", "float", "complex")),
    st.integers(-(2**70), 2**70),
    tensor_inputs(),
    S.arrays(shape=S.small_shapes).map(lambda a: np.array(a.tolist(), dtype=object)
                                       if a.ndim else a),
)
options = st.fixed_dictionaries({}, optional={
    "dtype": st.sampled_from(S.ALL_NAMES),
    "copy": st.sampled_from([None, True, False]),
    "device": st.sampled_from([None, "cpu"]),
})


def _source_ptr(data):
    if isinstance(data, np.ndarray) and data.size:
        return data_start(data)
    if isinstance(data, astensor.Tensor):
        return data.data_ptr()
    return None


def _outcome(fn, data, kw):
    try:
        return fn(data, **kw), None
    except Exception as e:  # noqa: BLE001 - the kind is what we compare
        return None, type(e)


def _describe(t, data):
    vals = np.asarray(t.numpy() if str(t.device) == "cpu" else REF(t, device="cpu").numpy())
    return {
        "dtype": t.dtype.name, "shape": t.shape, "strides": t.stride(), "device": str(t.device),
        "read_only": t.is_read_only, "requires_grad": t.requires_grad, "is_leaf": t.is_leaf,
        "grad_fn": None if t.grad_fn is None else t.grad_fn.name(),
        "bits": bits(vals),
        "same_object": t is data,
        "shares_source": _source_ptr(data) is not None and t.data_ptr() == _source_ptr(data),
    }


@given(data=inputs, kw=options)
def test_xfer3_impl_equals_reference(data, kw):
    """XFER-3: reference and impl agree on every input and option."""
    ref, ref_err = _outcome(REF, data, kw)
    got, got_err = _outcome(IMPL, data, kw)
    call = f"\n  reproduce: astensor.as_tensor({data!r}, **{kw!r})"
    assert ref_err == got_err, f"reference raised {ref_err}, impl raised {got_err}{call}"
    if ref_err is None:
        assert _describe(got, data) == _describe(ref, data), call
