"""Lifetime (ARR-2): the tensor keeps its producer alive, and releases it exactly once."""

import gc
import sys
import weakref

import numpy as np
import pytest

import astensor
import strategies as S
from helpers import assert_lifetime


class Arr(np.ndarray):
    """An ndarray subclass (weak-referenceable like any ndarray)."""


def _cycle():
    gc.collect()


def test_arr2_ndarray_kept_alive_then_released(impl):
    """ARR-2: the array lives while the tensor (or a view of its storage) lives."""
    assert_lifetime(lambda: np.arange(10.0).view(Arr), lambda a: impl.as_tensor(a[2:]),
                    what=f"{impl.name}: ndarray slice")


def test_arr2_refcount_exactly_once(impl):
    """ARR-2: each sharing tensor adds references that all go away with it."""
    a = np.arange(4.0)
    base = sys.getrefcount(a)
    ts = [impl.as_tensor(a) for _ in range(5)]
    assert sys.getrefcount(a) > base
    del ts
    _cycle()
    assert sys.getrefcount(a) == base


def test_arr2_buffer_export_held_and_released(impl):
    """ARR-2 / ARR-8: a bytearray cannot be resized while a tensor shares it; afterwards it can."""
    impl.diverges("ARR-8")
    b = bytearray(b"abcd")
    t = impl.as_tensor(b)
    with pytest.raises(BufferError):
        b.extend(b"e")
    del t
    _cycle()
    b.extend(b"e")
    assert len(b) == 5


class Exporter:
    """Speaks only __array_interface__ (ARR-9)."""

    def __init__(self):
        self.a = np.arange(3.0)
        self.__array_interface__ = self.a.__array_interface__


def test_arr2_array_interface_exporter_kept(impl):
    """ARR-2 / ARR-9: an __array_interface__ exporter stays alive while the tensor lives."""
    impl.diverges("ARR-9")
    assert_lifetime(Exporter, impl.as_tensor,
                    check=lambda t: impl.values(t).tolist() == [0.0, 1.0, 2.0],
                    what=f"{impl.name}: __array_interface__ exporter")


def test_arr2_dlpack_producer_released(impl):
    """ARR-2 / DLP-1: a DLPack producer's memory is released when the tensor dies."""
    assert_lifetime(lambda: np.arange(3.0), lambda a: impl.as_tensor(S.DLPackOnly(a)),
                    what=f"{impl.name}: DLPack producer")


def test_arr2_copies_do_not_hold_the_source(impl):
    """ARR-2: a copy (dtype change) holds no reference to the source."""
    assert_lifetime(lambda: np.arange(3.0).view(Arr),
                    lambda a: impl.as_tensor(a, dtype=impl.dtype("float32")), kept=False,
                    check=lambda t: impl.values(t).tolist() == [0.0, 1.0, 2.0],
                    what=f"{impl.name}: float32 copy")


def test_tensor_weakref_and_no_leak_on_errors():
    """Tensors are weak-referenceable; failed conversions leak no references (PyTorch
    test_from_numpy_no_leak_on_invalid_dtype)."""
    t = astensor.as_tensor([1.0])
    w = weakref.ref(t)
    del t
    assert w() is None
    x = np.array(["a", "b"])
    base = sys.getrefcount(x)
    for _ in range(200):
        with pytest.raises(TypeError):
            astensor.as_tensor(x)
    assert sys.getrefcount(x) == base
    class Leaf:
        pass

    leaf = Leaf()
    bad = [[1.0, 3.0], [2.0, leaf]]
    base = sys.getrefcount(leaf)
    for _ in range(200):
        try:
            astensor.as_tensor(bad)
        except TypeError:
            pass
    assert sys.getrefcount(leaf) == base


def test_interpreter_shutdown_with_live_tensors():
    """ARR-2 at exit: tensors, exports and capsules still alive when the interpreter shuts
    down must not crash it (owners are released only while Python can run)."""
    import os
    import subprocess
    import textwrap
    script = textwrap.dedent("""
        import numpy as np, astensor
        a = np.arange(10.0)
        t = astensor.as_tensor(a)
        v = np.asarray(t)
        cap = t.__dlpack__(max_version=(1, 0))
        keep = [astensor.as_tensor(memoryview(bytearray(8))), astensor.as_tensor([1, 2])]
        try:
            import torch
            x = torch.from_dlpack(astensor.as_tensor(a[::2]))
            y = astensor.as_tensor(torch.ones(3))
        except ImportError:
            pass
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       env=dict(os.environ), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
