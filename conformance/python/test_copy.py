"""Copy policy (COPY-1, COPY-2) [ext]."""

import numpy as np
import pytest
from hypothesis import given

import astensor
import strategies as S
from helpers import assert_values_equal, data_start


@given(a=S.views(S.arrays(dtypes=S.numpy_dtypes(names=S.NATIVE_NAMES))))
def test_copy1_true_always_new_memory(impl, a):
    """COPY-1: copy=True always gives new memory; the copy is writable and the source untouched."""
    impl.diverges("COPY-1")
    before = np.array(a)
    t = impl.as_tensor(a, copy=True)
    assert_values_equal(impl.values(t), a)
    if a.size:
        assert not np.shares_memory(impl.host_array(t), a)
        impl.write_first(t, 1)
    assert not impl.is_read_only(t)
    np.testing.assert_array_equal(a, before)


def test_copy1_true_on_tensor_gives_new_object(impl):
    impl.diverges("COPY-1")
    t = impl.make_tensor(np.arange(3.0))
    r = impl.as_tensor(t, copy=True)
    assert r is not t and impl.data_ptr(r) != impl.data_ptr(t)
    assert impl.as_tensor([1, 2], copy=True) is not None


@given(a=S.views(S.arrays(dtypes=S.numpy_dtypes(names=S.NATIVE_NAMES, byteorders=("=",)))))
def test_copy1_false_shares_when_allowed(impl, a):
    """COPY-1: copy=False shares whenever the rules share."""
    impl.diverges("COPY-1")
    t = impl.as_tensor(a, copy=False)
    if a.size:
        assert impl.data_ptr(t) == data_start(a)


@pytest.mark.parametrize("make,why", [
    (lambda: (np.arange(3.0), {"dtype": "float32"}), "dtype"),
    (lambda: (np.arange(3, dtype=">i4"), {}), "byte order"),
    (lambda: ([1, 2, 3], {}), "always copied"),
    (lambda: (3.5, {}), "always copied"),
    (lambda: (np.zeros(3, [("a", "u1"), ("b", "<f4")])["b"], {}), "multiples"),
], ids=["dtype", "byteorder", "list", "scalar", "packed"])
def test_copy1_false_raises_value_error_saying_why(impl, make, why):
    """COPY-1: copy=False and a copy is needed: ValueError saying why."""
    impl.diverges("COPY-1")
    data, kw = make()
    kw = {k: impl.dtype(v) for k, v in kw.items()}
    with pytest.raises(ValueError, match=why):
        impl.as_tensor(data, copy=False, **kw)


def test_copy1_false_tensor_dtype_change(impl):
    impl.diverges("COPY-1")
    t = impl.make_tensor(np.arange(3.0))
    with pytest.raises(ValueError, match="dtype"):
        impl.as_tensor(t, dtype=impl.dtype("float32"), copy=False)
    assert impl.as_tensor(t, copy=False) is t


def test_copy2_explain_says_share_or_copy(impl):
    """COPY-2: explain() says what would happen, without converting."""
    impl.diverges("COPY-2")
    a = np.arange(6.0)
    assert "share" in astensor.explain(a)
    text = astensor.explain(a, dtype="float32")
    assert "copy" in text and "float64" in text and "float32" in text
    assert "copy" in astensor.explain([1, 2])
    assert "ValueError" in astensor.explain([1, 2], copy=False) or "raise" in astensor.explain([1, 2], copy=False)
