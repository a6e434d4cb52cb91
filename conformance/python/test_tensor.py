"""Tensor input (TEN-1..3)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies as S
from helpers import assert_values_equal, repro


@given(a=S.arrays(dtypes=S.numpy_dtypes(names=S.NATIVE_NAMES, byteorders=("=",))))
def test_ten1_same_object(impl, a):
    """TEN-1: same dtype and device gives the same object, whatever the autograd state."""
    t = impl.make_tensor(a)
    assert impl.as_tensor(t) is t
    assert impl.as_tensor(t, dtype=impl.dtype(impl.dtype_name(t))) is t
    assert impl.as_tensor(t, device="cpu") is t


def test_ten1_strided_and_grad_tensors(impl):
    """TEN-1: non-contiguous views and requires_grad leaves / non-leaves come back as is."""
    v = impl.as_tensor(np.arange(12.0).reshape(3, 4)[:, ::2])
    assert impl.as_tensor(v) is v
    leaf = impl.make_tensor(np.ones(3, np.float32), requires_grad=True)
    assert impl.as_tensor(leaf) is leaf
    nonleaf = impl.as_tensor(leaf, dtype=impl.dtype("float64"))
    assert impl.as_tensor(nonleaf) is nonleaf and not impl.is_leaf(nonleaf)


@given(a=S.arrays(dtypes=S.numpy_dtypes(names=S.NATIVE_NAMES, byteorders=("=",)),
                  shape=S.small_shapes),
       dst=st.sampled_from(["float64", "int32", "bool", "complex64", "float16"]))
def test_ten2_dtype_change_new_tensor(impl, a, dst):
    """TEN-2: another dtype gives a new tensor with the values converted; it never aliases."""
    t = impl.make_tensor(a)
    src = impl.dtype_name(t)
    r = impl.as_tensor(t, dtype=impl.dtype(dst))
    if dst == src:
        assert r is t
        return
    assert r is not t and impl.dtype_name(r) == dst
    if a.size:
        assert impl.data_ptr(r) != impl.data_ptr(t)
        before = impl.values(r)
        impl.write_first(t, 1)
        assert_values_equal(impl.values(r), before)  # independent memory


def is_dense(shape, strides):
    """Non-overlapping and dense, in some order of the dimensions (size-1 dims ignored)."""
    if 0 in shape:
        return True
    acc = 1
    for d in sorted((d for d in range(len(shape)) if shape[d] != 1), key=lambda d: abs(strides[d])):
        if abs(strides[d]) != acc:
            return False
        acc *= shape[d]
    return True


def expected_copy_strides(shape, strides):
    """TEN-3: keep a dense non-overlapping source's stride order, else C-contiguous."""
    def contiguous(shape):
        out, acc = [], 1
        for n in reversed(shape):
            out.append(acc)
            acc *= max(n, 1)
        return tuple(reversed(out))
    if 0 in shape or any(s < 0 for s in strides):
        return contiguous(shape)
    dims = [d for d in range(len(shape)) if shape[d] != 1]
    order = sorted(dims, key=lambda d: (strides[d], -d))
    acc = 1
    for d in order:
        if strides[d] != acc:
            return contiguous(shape)
        acc *= shape[d]
    # dense: rebuild strides in the source's order (size-1 dims get the stride of their place)
    out = [0] * len(shape)
    acc = 1
    for d in sorted(range(len(shape)), key=lambda d: (strides[d], -d)):
        out[d] = acc
        acc *= shape[d]
    return tuple(out)


@given(a=S.views(S.arrays(dtypes=st.just(np.dtype("float32")),
                          shape=S.hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))))
def test_ten3_copy_layout(impl, a):
    """TEN-3: a copy keeps a dense source's stride order (transposed stays transposed),
    otherwise it is C-contiguous."""
    if any(s < 0 for s in a.strides):
        impl.diverges_here("ARR-3")  # torch refuses negative strides, even on size-1 dims
    t = impl.as_tensor(a)
    r = impl.as_tensor(t, dtype=impl.dtype("float64"))
    assert_values_equal(impl.values(r), a)
    if a.size == 0:
        return  # an empty copy has no layout to keep
    want = expected_copy_strides(a.shape, impl.strides(t))
    if not is_dense(a.shape, impl.strides(t)):
        impl.diverges_here("TEN-3-order")  # torch keeps a non-dense source's stride order
    # The stride of a size-1 dimension is irrelevant (either convention is a valid layout).
    got = tuple(s for s, n in zip(impl.strides(r), a.shape) if n != 1)
    assert got == tuple(s for s, n in zip(want, a.shape) if n != 1), repro(impl, a)
    assert_values_equal(impl.values(r), a)


def test_ten3_examples(impl):
    """TEN-3: Fortran order and transposes keep their order; gaps and broadcasts become
    C-contiguous."""
    f = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    assert impl.strides(impl.as_tensor(f, dtype=impl.dtype("float32"))) == (1, 2)
    tr = np.arange(6.0).reshape(2, 3).T
    assert impl.strides(impl.as_tensor(tr, dtype=impl.dtype("float32"))) == (1, 3)
    gaps = np.arange(8.0)[::2]
    assert impl.strides(impl.as_tensor(gaps, dtype=impl.dtype("float32"))) == (1,)
    b = np.broadcast_to(np.arange(3.0), (4, 3))
    assert impl.strides(impl.as_tensor(b, dtype=impl.dtype("float32"))) == (3, 1)
