"""The strategies produce what they claim (array-api-tests' practice)."""

import numpy as np
import pytest
from hypothesis import find, given, settings

import strategies as S


@given(a=S.arrays())
def test_arrays_are_supported_dtypes(a):
    assert isinstance(a, np.ndarray)
    name = a.dtype.newbyteorder("=").name
    assert name in S.ALL_NAMES or (S.ml_dtypes and a.dtype == S.ml_dtypes.bfloat16)


@given(a=S.views())
def test_views_are_arrays(a):
    assert isinstance(a, np.ndarray)  # never a NumPy scalar


@given(a=S.readonly_arrays())
def test_readonly_arrays_are_read_only(a):
    assert not a.flags.writeable


@given(case=S.nested_sequences())
def test_nested_sequences_have_their_shape(case):
    data, shape = case
    assert np.array(data, dtype=object).shape == shape


@given(data=S.ragged_sequences())
def test_ragged_sequences_are_ragged(data):
    with pytest.raises(ValueError):
        np.array(data, dtype=np.int64)


@given(data=S.bad_sequences())
def test_bad_sequences_have_a_bad_leaf(data):
    def leaves(x):
        if isinstance(x, list):
            for y in x:
                yield from leaves(y)
        else:
            yield x
    assert any(not isinstance(x, (int, float, complex)) for x in leaves(data))


@given(case=S.buffer_objects())
def test_buffer_objects_match_their_values(case):
    obj, name, values = case
    got = np.asarray(obj)
    assert got.dtype.newbyteorder("=").name == name
    np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize("what,cond", [
    ("negative stride", lambda a: any(s < 0 for s, n in zip(a.strides, a.shape) if n > 1)),
    ("broadcast", lambda a: any(s == 0 for s, n in zip(a.strides, a.shape) if n > 1)),
    ("0-d", lambda a: a.ndim == 0),
    ("zero-size", lambda a: a.size == 0 and a.ndim > 0),
    ("byteswapped", lambda a: a.dtype.byteorder == ">"),
    ("offset", lambda a: a.size > 0 and isinstance(a.base, np.ndarray) and
     a.__array_interface__["data"][0] != a.base.__array_interface__["data"][0]),
    ("non-contiguous", lambda a: a.size > 1 and not a.flags.c_contiguous),
])
def test_views_cover_the_layouts(what, cond):
    """views() reaches every layout the ARR rules talk about."""
    find(S.views(), cond, settings=settings(max_examples=2000, database=None, derandomize=True))
