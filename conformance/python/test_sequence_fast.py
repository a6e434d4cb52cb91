"""The Python-data fast path of impl/ (impl/sequence_fast.h: scalar runs read from list item
arrays, the speculative fill of walk 1) against the reference, exactly: values bit for bit,
dtype and shape, or the same error type AND message (SEQ-2, SEQ-3, SEQ-5, SEQ-6; XFER-3).

The cases aim at the fast path's edges: where a run of plain leaves stops (bool/int/float
mixes, big ints, NumPy scalars, ndarray blocks, tuples, subclasses), where the speculative
output must be dropped (a dtype change after the first leaf, NaN or overflow into an int,
a non-plain node), ragged data at every depth, deep nesting, empty lists, and lists mutated
by Python code that runs during the conversion (no crash, no leak, same outcome)."""

import collections.abc
import math
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import astensor
from helpers import bits

REF = astensor.reference.as_tensor
IMPL = astensor.as_tensor

pytestmark = pytest.mark.skipif(not getattr(astensor, "HAVE_IMPL", False),
                                reason="module built without astensor_impl: nothing to compare")


def outcome(fn, data, kw):
    try:
        t = fn(data, **kw)
    except Exception as e:  # noqa: BLE001 - type and message are compared
        return ("error", type(e).__name__, str(e))
    return ("ok", t.dtype.name, tuple(t.shape), tuple(t.stride()), bits(t.numpy()))


def check_same(data, **kw):
    """XFER-3 with the message: impl's outcome is the reference's, exactly."""
    ref = outcome(REF, data, kw)
    got = outcome(IMPL, data, kw)
    assert got == ref, f"\n  reference: {ref}\n  impl:      {got}\n  input: {data!r} {kw!r}"
    return ref


class FloatSub(float):
    pass


class IntSub(int):
    pass


class ListSub(list):
    pass


BIG = 2**63
NAN = float("nan")

EDGE_CASES = [
    # SEQ-3 inference over runs of mixed plain leaves (the run's dtype fold).
    [True, False, True],
    [True, 1, False],
    [1, 2, 3.5],
    [1.5, 2, True],
    [[1, 2], [3.0, 4]],
    [[True, False], [1, 0]],
    [0, -1, 2**31, -(2**31), 2**62, -(2**63), 2**63 - 1],
    [2**30, 2**30 - 1, -(2**30), 2**60, -(2**60) + 1],  # one- and two-digit CPython ints
    # SEQ-5 / SEQ-6: ints beyond int64 end a run (UInt, BigInt leaves through the checked store).
    [1, 2, BIG],
    [1, 2, BIG - 1 + BIG],
    [1, 2, 2**64],
    [1.0, 2**64],
    [1.0, 10**400],
    [[1, 2], [3, BIG]],
    [BIG, 1],
    # SEQ-5: NaN and infinities into the inferred float dtype; complex ends a run.
    [1.0, NAN, math.inf, -math.inf],
    [1, 2, 3 + 4j],
    [1.0, 2j],
    # SEQ-2: nested tuples and lists, tuples of tuples, a list subclass.
    ((1, 2), (3, 4)),
    [(1.0, 2.0), [3.0, 4.0]],
    (((True,),),),
    ListSub([1.0, 2.0]),
    [ListSub([1, 2]), [3, 4]],
    # Subclasses of the number types are not plain: the generic leaf path.
    [1.0, FloatSub(2.5), 3.0],
    [1, IntSub(7), 3],
    # SEQ-3: NumPy scalars (and 0-d arrays) inside a run of Python numbers.
    [1.0, np.float64(2.0), 3.0],
    [1, np.int32(2), 3],
    [1.0, np.float16(2.0), 3.0],
    [np.float16(1.0), 2.0, 3.0],
    [True, np.bool_(False)],
    [1, np.uint64(2**63)],
    [1.0, np.array(2.0), 3.0],
    [[1.0, 2.0], [np.float32(3.0), 4.0]],
    # SEQ-4: ndarray blocks mixed with lists.
    [np.arange(3.0), [1.0, 2.0, 3.0]],
    [[1.0, 2.0, 3.0], np.arange(3, dtype=np.int32)],
    [[1, 2, 3], np.arange(3.0, dtype=np.float32)],
    [np.arange(4).reshape(2, 2), [[1, 2], [3, 4]]],
    [[np.arange(2.0), [1.0, 2.0]], [[3.0, 4.0], np.ones(2)]],
    # SEQ-6: ragged at each depth, scalars where sequences are due and the reverse.
    [1.0, [2.0]],
    [[1.0], 2.0],
    [[1.0, 2.0], [3.0]],
    [[1.0, 2.0], [3.0, 4.0, 5.0]],
    [[[1, 2], [3, 4]], [[5, 6], [7]]],
    [[[1, 2], [3, 4]], [[5, 6], 7]],
    [[[1, 2], [3, 4]], [5, 6]],
    [[1, 2], [3, [4]]],
    [[1.0, 2.0], np.arange(3.0)],
    [np.arange(2.0), [1.0, 2.0, 3.0]],
    # SEQ-2: invalid leaves inside a run.
    [1.0, None, 3.0],
    [1.0, "x"],
    [[1.0, 2.0], [3.0, {}]],
    # Empty lists at several depths.
    [],
    [[]],
    [[], []],
    [[], [1.0]],
    [[1.0], []],
    [[[]], [[]]],
    (),
    # A scalar root and a one-element list.
    1.5,
    7,
    True,
    [2.5],
]

DTYPES = [None, "float32", "float64", "float16", "bfloat16", "int64", "int32", "int8", "uint8",
          "bool", "complex64"]


@pytest.mark.parametrize("data", EDGE_CASES, ids=lambda d: repr(d)[:40])
@pytest.mark.parametrize("dtype", DTYPES)
def test_seq_fast_edge_cases_equal_reference(data, dtype):
    """SEQ-2/3/5/6, XFER-3: each edge case, with and without dtype=, matches the reference."""
    check_same(data, **({} if dtype is None else {"dtype": dtype}))


def test_seq5_nan_and_overflow_into_int_report_the_first_index():
    """SEQ-5: the first bad leaf in row-major order is the one reported, past a long run."""
    data = [list(range(100)) for _ in range(50)]
    data[20][70] = NAN
    data[30][5] = 2**70
    r = check_same(data, dtype="int64")
    assert r[0] == "error" and "[20][70]" in r[2]
    data[20][70] = 1.0e30
    r = check_same(data, dtype="int32")
    assert r[0] == "error"
    r = check_same(data, dtype="int64")
    assert r[0] == "error"


def test_seq6_ragged_far_into_a_run_reports_the_index_path():
    """SEQ-6: a short row after many full ones: same message, with its index path."""
    data = [[float(i)] * 64 for i in range(200)]
    data[150] = data[150][:63]
    r = check_same(data)
    assert r[0] == "error" and "[150]" in r[2]


def test_seq3_dtype_change_after_the_first_leaf_drops_the_speculative_output():
    """SEQ-3: ints first, a float at the very end: float32 result (walk 2 runs)."""
    data = list(range(1000)) + [0.5]
    assert check_same(data)[1] == "float32"
    data = [True] * 999 + [2]
    assert check_same(data)[1] == "int64"
    nested = [[1, 2, 3]] * 300 + [[1, 2, 3.5]]
    assert check_same(nested)[1] == "float32"


def test_seq3_default_dtype_float64_in_runs():
    """SEQ-3: the default float dtype is read by the runs (set_default_dtype float64)."""
    old = astensor.get_default_dtype()
    try:
        astensor.set_default_dtype(astensor.float64)
        assert check_same([1.0, 2, True])[1] == "float64"
        assert check_same([[0.1] * 10] * 10)[1] == "float64"
    finally:
        astensor.set_default_dtype(old)


def test_seq2_deep_nesting_and_the_depth_limit():
    """SEQ-2: 60 levels convert; beyond the limit both raise the same error."""
    deep = 1.0
    for _ in range(60):
        deep = [deep]
    assert check_same(deep)[2] == (1,) * 60
    too_deep = 1.0
    for _ in range(80):
        too_deep = [too_deep]
    assert check_same(too_deep)[0] == "error"
    selfref = [1.0]
    selfref.append(selfref)
    assert check_same(selfref)[0] == "error"


def test_seq2_shared_inner_lists():
    """The same inner list object many times (the speculative output sized from lengths)."""
    row = [0.25] * 100
    check_same([row] * 100)
    check_same([row] * 100, dtype="float64")


def _odd_blocks():
    base = np.arange(24.0).reshape(4, 6)
    ext1 = np.lib.stride_tricks.as_strided(np.arange(3.0), shape=(1, 3), strides=(1000, 8))
    return [
        [base[:, ::2], base[:, 1::2]],                       # strided blocks
        [np.asfortranarray(base[:2, :3]), base[2:, :3]],     # Fortran order vs C order
        [base[::-1, :3], base[:, :3]],                       # negative stride
        [ext1, np.ones((1, 3))],                             # any stride on an extent-1 dim
        [np.arange(3, dtype=">f8"), np.arange(3.0)],         # non-native byte order (ARR-4)
        [np.arange(3, dtype=np.float32), np.arange(3.0)],    # a cast per block
        [np.zeros((0,)), np.zeros((0,))],                    # empty blocks
        [np.broadcast_to(np.float64(2.0), (3,)), np.arange(3.0)],  # zero stride
    ]


@pytest.mark.parametrize("data", _odd_blocks(), ids=lambda d: "x".join(str(b.shape) for b in d))
@pytest.mark.parametrize("dtype", [None, "float64", "float32", "int64"])
def test_seq4_blocks_of_every_layout_equal_reference(data, dtype):
    """SEQ-4: ndarray leaves of every layout (the in-place memcpy of dense same-dtype blocks,
    the gather/cast kernels for the rest) give the reference's bytes."""
    check_same(data, **({} if dtype is None else {"dtype": dtype}))


def test_seq_large_flat_and_nested_lists():
    """The benchmark shapes, smaller: values bit for bit (float, int, bool; nested)."""
    check_same([i * 0.1 for i in range(20000)])
    check_same(list(range(-10000, 10000)))
    check_same([i % 3 == 0 for i in range(5000)])
    check_same([[r * c for c in range(120)] for r in range(120)])
    check_same([[r * 0.5 + c for c in range(120)] for r in range(120)], dtype="float64")
    check_same([np.full(100, i * 0.5) for i in range(50)])


class MutatingSeq(collections.abc.Sequence):
    """A sequence whose __getitem__ / __len__ mutates other lists of the same input."""

    def __init__(self, victims, n):
        self.victims, self.n = victims, n

    def __len__(self):
        for v in self.victims:
            v.clear()
        return self.n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        for v in self.victims:
            v.clear()
        return 1.0


@pytest.mark.parametrize("fn", [IMPL, REF])
def test_seq6_mutation_during_conversion_never_crashes(fn):
    """SEQ-6: lists cleared by Python code run mid-conversion: a clean error or a valid
    tensor, never a read of freed memory (the runs hold no references, so they must not
    outlive a call into Python)."""
    for _ in range(3):
        a, b = [float(i) for i in range(500)], [float(i) for i in range(500)]
        data = [a, b, MutatingSeq([a, b], 500)]
        try:
            t = fn(data)
            assert t.shape == (3, 500)
        except ValueError as e:
            assert "[as_tensor]" in str(e)
        a = [float(i) for i in range(500)]
        data = [MutatingSeq([a], 500), a]
        try:
            fn(data)
        except ValueError as e:
            assert "[as_tensor]" in str(e)


def test_seq6_mutation_outcome_matches_reference():
    """SEQ-6: the same mutation gives the same outcome in both implementations."""
    def make():
        a, b = [float(i) for i in range(50)], [float(i) for i in range(50)]
        return [a, b, MutatingSeq([a, b], 50)]
    assert outcome(IMPL, make(), {}) == outcome(REF, make(), {})


def test_seq_no_reference_leak_on_fast_and_error_paths():
    """Nothing leaks: the leaves' reference counts are unchanged after conversions and
    after errors raised from inside a run."""
    x = 12345.678
    y = 2**70
    data = [[x] * 100 + [y]]
    before_x, before_y = sys.getrefcount(x), sys.getrefcount(y)
    for _ in range(20):
        IMPL([[x] * 100])
        with pytest.raises(Exception):
            IMPL(data, dtype="int64")
    assert sys.getrefcount(x) == before_x
    assert sys.getrefcount(y) == before_y


leaf = st.one_of(
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.integers(-1000, 1000),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([np.float32(1.5), np.int16(-3), np.bool_(True), np.float64(NAN)]),
)


@st.composite
def nested(draw):
    depth = draw(st.integers(1, 3))
    shape = draw(st.lists(st.integers(0, 5), min_size=depth, max_size=depth))

    def build(d):
        if d == depth:
            return draw(leaf)
        n = shape[d]
        if draw(st.integers(0, 20)) == 0:  # occasionally ragged
            n = max(0, n + draw(st.sampled_from([-1, 1])))
        items = [build(d + 1) for _ in range(n)]
        if d + 1 == depth and items and draw(st.integers(0, 10)) == 0:
            return np.asarray([float(i) for i in range(n)])  # an ndarray block instead
        return tuple(items) if draw(st.integers(0, 4)) == 0 else items

    return build(0)


@given(data=nested(), dtype=st.sampled_from(DTYPES))
def test_xfer3_seq_fast_property(data, dtype):
    """XFER-3 with messages: random mixes of leaves, tuples, blocks and ragged rows."""
    check_same(data, **({} if dtype is None else {"dtype": dtype}))
