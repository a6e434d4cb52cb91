"""Autograd history (GRAD-1..3)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

FLOATS = ["float16", "float32", "float64", "complex64", "complex128"]


@given(src=st.sampled_from(["float32", "float64"]),
       dst=st.sampled_from(FLOATS + ["int32", "bool", "uint8"]))
def test_grad1_copy_records_history(impl, src, dst):
    """GRAD-1: copying a tensor that requires grad into a float/complex dtype gives a non-leaf
    requiring grad whose grad_fn is ToCopyBackward; integer/bool targets drop the history."""
    leaf = impl.make_tensor(np.ones(3, src), requires_grad=True)
    r = impl.as_tensor(leaf, dtype=impl.dtype(dst))
    if dst == src:
        assert r is leaf and impl.is_leaf(r) and impl.requires_grad(r)
    elif dst in FLOATS:
        assert impl.requires_grad(r) and not impl.is_leaf(r)
        assert impl.grad_fn_name(r) == "ToCopyBackward"
    else:
        assert not impl.requires_grad(r) and impl.is_leaf(r) and impl.grad_fn_name(r) is None


def test_grad1_requires_grad_only_on_float_leaves(impl):
    """GRAD-1: integer tensors cannot require grad (RuntimeError, as in PyTorch)."""
    t = impl.make_tensor(np.ones(2, np.int64))
    with pytest.raises(RuntimeError):
        impl.set_requires_grad(t, True)


def test_grad2_backward_through_a_chain(impl):
    """GRAD-2: backward through float32 -> float64 -> float16 copies delivers the gradient
    to the leaf, converted back to its dtype."""
    leaf = impl.make_tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    mid = impl.as_tensor(leaf, dtype=impl.dtype("float64"))
    out = impl.as_tensor(mid, dtype=impl.dtype("float16"))
    impl.backward(out, np.array([1.0, 0.5, -2.0], np.float16))
    g = impl.grad_values(leaf)
    assert g.dtype == np.float32 and g.tolist() == [1.0, 0.5, -2.0]


def test_grad2_gradients_accumulate(impl):
    """GRAD-2: two backward passes accumulate into .grad."""
    leaf = impl.make_tensor(np.array([1.0, 2.0], np.float64), requires_grad=True)
    impl.backward(impl.as_tensor(leaf, dtype=impl.dtype("float32")), np.ones(2, np.float32))
    impl.backward(impl.as_tensor(leaf, dtype=impl.dtype("float32")), np.ones(2, np.float32))
    assert impl.grad_values(leaf).tolist() == [2.0, 2.0]


def test_grad3_no_grad_records_nothing(impl):
    """GRAD-3: inside no_grad() no history is recorded."""
    leaf = impl.make_tensor(np.ones(2, np.float32), requires_grad=True)
    with impl.no_grad():
        r = impl.as_tensor(leaf, dtype=impl.dtype("float64"))
    assert not impl.requires_grad(r) and impl.is_leaf(r)


@pytest.mark.parametrize("data", [[1.0, 2.0], np.ones(2), 3.5, np.float32(1)], ids=repr)
def test_grad3_python_and_array_inputs_are_plain_leaves(impl, data):
    """GRAD-3: sequences and arrays give leaves with requires_grad=False."""
    t = impl.as_tensor(data)
    assert impl.is_leaf(t) and not impl.requires_grad(t)
