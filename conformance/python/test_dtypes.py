"""dtypes and casts (DT-1..4)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import astensor
import strategies as S
from adapters import DTYPE_NAMES, numpy_dtype, torch
from helpers import assert_values_equal


@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_dt1_every_dtype_round_trips(impl, name):
    """DT-1: every dtype maps to its NumPy dtype (bfloat16 to ml_dtypes') and back, shared."""
    if name == "bfloat16":
        impl.diverges("DT-1-ml_dtypes")
    a = np.zeros(3, numpy_dtype(name))
    t = impl.as_tensor(a)
    assert impl.dtype_name(t) == name
    assert impl.values(t).dtype == a.dtype


@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_dt1_dtype_objects(name):
    """DT-1: astensor.<name> has .name, .itemsize and a repr."""
    d = getattr(astensor, "bool_" if name == "bool" else name)
    assert d.name == name and repr(d) == f"astensor.{name}"
    assert d.itemsize == (2 if name == "bfloat16" else numpy_dtype(name).itemsize)
    assert astensor.as_tensor([1], dtype=d).dtype is d


@pytest.mark.skipif(torch is None, reason="the promotion table is checked against torch, "
                                          "which is not installed")
def test_dt2_full_promotion_table_equals_torch():
    """DT-2: promote_types equals torch.promote_types for every pair, refusals included."""
    for a in DTYPE_NAMES:
        for b in DTYPE_NAMES:
            try:
                want = str(torch.promote_types(getattr(torch, a), getattr(torch, b)))[6:]
            except (RuntimeError, TypeError):
                want = None
            got = astensor._astensor._promote_types(a, b)
            assert (None if got is None else got.name) == want, (a, b)


def test_dt2_refused_pairs_raise_type_error(impl):
    """DT-2: inference over a pair PyTorch refuses raises (TypeError here)."""
    with pytest.raises((TypeError, RuntimeError)):
        impl.as_tensor([np.uint16(1), np.int8(1)])


@given(a=S.arrays(dtypes=S.numpy_dtypes(names=["float16", "float32", "float64"], byteorders=("=",)),
                  shape=S.small_shapes),
       dst=st.sampled_from(["float16", "float32", "float64", "bfloat16"]))
def test_dt3_float_rounding_nearest_even(impl, a, dst):
    """DT-3: floating -> floating rounds to nearest even (bfloat16 included), as NumPy and
    ml_dtypes do."""
    if dst == "bfloat16" and S.ml_dtypes is None:
        pytest.skip("bfloat16 needs ml_dtypes")
    t = impl.as_tensor(a, dtype=impl.dtype(dst))
    with np.errstate(over="ignore"):
        want = a.astype(np.float32).astype(numpy_dtype(dst)) if dst == "bfloat16" and a.dtype == np.float64 \
            else a.astype(numpy_dtype(dst))
    if dst == "bfloat16" and a.dtype == np.float64:
        # double rounding through float32 can differ from direct rounding by one ulp
        got = impl.values(t).astype(np.float64)
        np.testing.assert_allclose(got, want.astype(np.float64), rtol=2 ** -7, atol=0)
    else:
        assert_values_equal(impl.values(t), want)


def test_dt3_saturating_float_to_int(impl):
    """DT-3: out-of-range floating -> integer saturates, NaN -> 0 (PyTorch: undefined)."""
    impl.diverges("DT-3")
    a = np.array([1e10, -1e10, np.nan, np.inf, -np.inf, 3.9, -3.9])
    got = impl.values(impl.as_tensor(a, dtype=impl.dtype("int32"))).tolist()
    assert got == [2**31 - 1, -2**31, 0, 2**31 - 1, -2**31, 3, -3]
    got = impl.values(impl.as_tensor(np.array([-5.0, 300.0]), dtype=impl.dtype("uint8"))).tolist()
    assert got == [0, 255]


def test_dt3_integer_wrap_bool_complex(impl):
    """DT-3: integer -> narrower integer wraps; -> bool is != 0 (NaN true); complex -> real
    keeps the real part; real -> complex has zero imaginary part."""
    assert impl.values(impl.as_tensor(np.array([300, -1], np.int64), dtype=impl.dtype("uint8"))).tolist() == [44, 255]
    got = impl.values(impl.as_tensor(np.array([0.0, np.nan, -0.0, 2.0]), dtype=impl.dtype("bool")))
    assert got.tolist() == [False, True, False, True]
    got = impl.values(impl.as_tensor(np.array([1 + 2j]), dtype=impl.dtype("float64")))
    assert got.tolist() == [1.0]
    got = impl.values(impl.as_tensor(np.array([1.5]), dtype=impl.dtype("complex64")))
    assert got.tolist() == [1.5 + 0j]


def test_dt4_default_dtype(impl):
    """DT-4: set_default_dtype changes only Python floats, complexes and empty sequences."""
    from adapters import default_dtype
    with default_dtype(impl, "float64"):
        assert impl.dtype_name(impl.as_tensor([1.5])) == "float64"
        assert impl.dtype_name(impl.as_tensor([])) == "float64"
        assert impl.dtype_name(impl.as_tensor([1j])) == "complex128"
        assert impl.dtype_name(impl.as_tensor([1])) == "int64"
        assert impl.dtype_name(impl.as_tensor(np.zeros(2, np.float32))) == "float32"
        assert impl.dtype_name(impl.as_tensor([np.float32(1), 1.5])) == "float64"
    assert impl.get_default_dtype_name() == "float32"


def test_dt4_only_floating_defaults():
    """DT-4: a non-floating default is a TypeError."""
    with pytest.raises(TypeError):
        astensor.set_default_dtype(astensor.int64)
    astensor.set_default_dtype("bfloat16")
    assert astensor.as_tensor(1.0).dtype is astensor.bfloat16
    assert astensor.as_tensor(1j).dtype is astensor.complex64
