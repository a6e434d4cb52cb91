"""Hostile objects: bad input gives a clear error, never a crash or a leak (issue 7 basics)."""

import collections.abc

import numpy as np
import pytest

import astensor

FNS = [astensor.as_tensor, astensor.reference.as_tensor]


class Boom(Exception):
    pass


class BadLen(collections.abc.Sequence):
    def __len__(self):
        raise Boom("len")

    def __getitem__(self, i):
        return 1


class BadItem(collections.abc.Sequence):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        raise Boom("item")


class Liar(collections.abc.Sequence):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        if i >= 1:
            raise IndexError(i)
        return 1.0


@pytest.mark.parametrize("fn", FNS, ids=["impl", "reference"])
def test_user_sequence_errors_propagate(fn):
    with pytest.raises(Boom):
        fn(BadLen())
    with pytest.raises(Boom):
        fn([BadItem()])
    with pytest.raises((ValueError, IndexError)):
        fn(Liar())


@pytest.mark.parametrize("fn", FNS, ids=["impl", "reference"])
def test_list_mutated_during_conversion(fn):
    """SEQ-6: a list that shrinks while it is read gives ValueError, not a crash."""
    outer = [[1.0, 2.0], None, [3.0, 4.0], [5.0, 6.0]]

    class Shrinker(collections.abc.Sequence):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            if len(outer) > 2:
                del outer[2:]
            return 0.0

    outer[1] = Shrinker()
    with pytest.raises(ValueError, match="changed"):
        fn(outer)


class Prop:
    @property
    def __array_interface__(self):
        raise Boom("property")


@pytest.mark.parametrize("fn", FNS, ids=["impl", "reference"])
def test_protocol_errors(fn):
    with pytest.raises(Boom):
        fn(Prop())

    class ArrList:
        def __array__(self, dtype=None, copy=None):
            return [1, 2]

    with pytest.raises(TypeError, match="__array__"):
        fn(ArrList())

    class DlInt:
        def __dlpack__(self, **kw):
            return 5

        def __dlpack_device__(self):
            return (1, 0)

    with pytest.raises(TypeError, match="PyCapsule"):
        fn(DlInt())

    class DlDevBad:
        def __dlpack__(self, **kw):
            return np.zeros(1).__dlpack__(**kw)

        def __dlpack_device__(self):
            return "cpu"

    with pytest.raises(TypeError, match="__dlpack_device__"):
        fn(DlDevBad())


def _iface(**kw):
    d = {"shape": (4,), "typestr": "<f8", "data": (0x1000, False), "version": 3}
    d.update(kw)

    class O:
        __array_interface__ = d
    return O()


@pytest.mark.parametrize("fn", FNS, ids=["impl", "reference"])
@pytest.mark.parametrize("kw,err", [
    ({"shape": (2**40, 2**40)}, ValueError),
    ({"shape": (-1,)}, ValueError),
    ({"data": (0, False)}, ValueError),
    ({"strides": (2**62,)}, ValueError),
    ({"data": (2**64 - 8, False)}, ValueError),
    ({"typestr": "<V2"}, TypeError),
    ({"typestr": "|O8"}, TypeError),
    ({"version": "3"}, TypeError),
], ids=lambda x: str(x)[:28])
def test_array_interface_lies_are_value_errors(fn, kw, err):
    """Hostile producers: impossible layouts are refused before any memory is touched."""
    with pytest.raises(err):
        fn(_iface(**kw))


@pytest.mark.parametrize("fn", FNS, ids=["impl", "reference"])
def test_released_memoryview(fn):
    m = memoryview(bytearray(4))
    m.release()
    with pytest.raises(ValueError):
        fn(m)


@pytest.mark.parametrize("fn", FNS, ids=["impl", "reference"])
def test_number_subclasses(fn):
    import enum

    class E(enum.IntEnum):
        A = 3

    class F(float):
        def __float__(self):
            raise Boom("never called: the stored value is used")

    assert fn([E.A, 2]).tolist() == [3, 2]
    assert fn([F(1.5)]).tolist() == [1.5]
    assert fn(np.array([F(2.5)], dtype=object)).tolist() == [2.5]
