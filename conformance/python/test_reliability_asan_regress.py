"""Regressions for what the ASan + UBSan run of this suite found (ci/stages/25-python-asan).

Both were undefined behaviour that a normal build executes silently (signed overflow, pointer
arithmetic out of bounds, which wrap on x86-64): in a normal build these tests check the
clean outcome; under UBSan (-fno-sanitize-recover) the old code aborted the interpreter here.
"""

import numpy as np
import pytest

import astensor
from test_dlpack import Producer

IMPLS = {"impl": astensor.as_tensor, "reference": astensor.reference.as_tensor}


@pytest.mark.parametrize("which", list(IMPLS))
def test_arr9_gil_size_test_of_an_absurd_shape_is_clean(which):
    """Issue 7 / ARR-9: python/src/entry.cpp decides whether to release the GIL from the
    view's byte size; it multiplied the element count by the item size unchecked, so 2**62
    int16 elements (a hostile __array_interface__) were a signed overflow before validate()
    refused the view. Now: the typed ValueError of validate(), naming the problem."""
    buf = np.zeros(4, dtype=np.int16)

    class Huge:
        __array_interface__ = {"shape": (2**62,), "typestr": "<i2", "version": 3,
                               "data": (buf.ctypes.data, False)}

    with pytest.raises(ValueError):
        IMPLS[which](Huge())


@pytest.mark.parametrize("which", list(IMPLS))
@pytest.mark.parametrize("offset", [2**63, 2**64 - 8])
def test_dlp1_wild_byte_offset_of_an_empty_capsule_is_clean(which, offset):
    """DLP-1: python/src/dlpack_import.cpp added DLTensor.byte_offset to the data pointer as
    pointer arithmetic, which a hostile offset (2**63) overflows. A zero-size tensor never
    touches its data, so any offset is harmless: the result is an empty tensor, and the
    producer's deleter runs exactly once."""
    buf = np.zeros(16, dtype=np.uint8)
    p = Producer(buf, (0,), byte_offset=offset)
    t = IMPLS[which](p.capsule)
    assert tuple(t.shape) == (0,) and t.dtype.name == "int32"
    del t
    assert p.calls == 1
