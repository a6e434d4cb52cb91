"""Reliability (issue 7): producer lifetimes, memory growth over many conversions, and
several threads converting at once.

ARR-2: the tensor keeps its source alive as long as it (or a view) lives, and releases it
exactly once afterwards; checked with weakref callbacks, sys.getrefcount and DLPack deleter
counts. Over 100,000 conversions the process's memory (resident, or ASan's live heap bytes
under ASan) must not grow (a leak of one small Storage or Tensor per conversion would show as
several MiB). Threads converting at once, small arrays (GIL held) and large ones (GIL released,
so the copies overlap), give exactly the serial results (XFER-3)."""

import gc
import sys
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import astensor
import strategies as S
from helpers import memory_in_use, under_asan
from test_dlpack import Producer

N_CONVERSIONS = 100_000


class ArrayInterfaceOnly:
    """A producer that speaks only __array_interface__ (ARR-9) and supports weakrefs."""

    def __init__(self, a):
        self._a = a
        self.__array_interface__ = a.__array_interface__


def test_arr2_numpy_released_once_after_last_sharing_tensor():
    """ARR-2: the ndarray outlives every tensor and view sharing it, then goes exactly once."""
    released = []
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    weakref.finalize(a, released.append, 1)
    t1 = astensor.as_tensor(a)
    t2 = astensor.as_tensor(t1)          # shares t1 (TEN-1)
    view = np.asarray(t2)                # a NumPy view of the tensor
    del a, t1
    gc.collect()
    assert released == []
    del t2
    gc.collect()
    assert released == []
    assert view.sum() == 66              # the memory is still valid
    del view
    gc.collect()
    assert released == [1]


@pytest.mark.parametrize("kind", ["ndarray", "bytearray", "memoryview", "array_interface"])
def test_arr2_refcount_back_to_baseline_after_many_conversions(kind):
    """ARR-2: sys.getrefcount of the producer returns to its baseline after every conversion
    (no reference kept, none dropped twice), over many conversions."""
    base_arr = np.arange(64, dtype=np.int32)
    producer = {
        "ndarray": lambda: base_arr,
        "bytearray": lambda: bytearray(base_arr.tobytes()),
        "memoryview": lambda: memoryview(base_arr),
        "array_interface": lambda: ArrayInterfaceOnly(base_arr),
    }[kind]()
    before = sys.getrefcount(producer)
    for _ in range(2000):
        t = astensor.as_tensor(producer)
        assert sys.getrefcount(producer) > before  # the tensor holds it (ARR-2)
        del t
    gc.collect()
    assert sys.getrefcount(producer) == before


def test_arr2_dlpack_deleter_runs_once_per_capsule():
    """DLP-1 / ARR-2: each capsule's deleter runs exactly once, after its tensor goes."""
    buf = np.arange(16, dtype=np.int32)
    producers = [Producer(buf, (4, 4), legacy=bool(i % 2)) for i in range(500)]
    tensors = [astensor.as_tensor(p.capsule) for p in producers]
    assert all(p.calls == 0 for p in producers)
    del tensors
    gc.collect()
    assert [p.calls for p in producers] == [1] * len(producers)


class Arr(np.ndarray):
    """An ndarray subclass, to count releases of fresh producers with weakref callbacks."""


def test_no_memory_growth_over_100k_conversions():
    """Issue 7 / ARR-2: 100,000 conversions of every producer kind leave memory flat (resident
    memory, or ASan's live heap bytes under ASan: helpers.memory_in_use; the bound is tolerant
    of allocator noise, while a per-conversion leak of even 64 bytes would add 6 MiB); the
    long-lived producers' refcounts are back at their exact baselines; and every fresh
    producer (an ndarray shared directly, one shared through DLPack) was released exactly
    once, counted by weakref callbacks."""
    a = np.arange(256, dtype=np.float64)
    ai = ArrayInterfaceOnly(a)
    ba = bytearray(a.tobytes())
    lst = [[1, 2.5], [3, 4]]
    created, released = [0], [0]
    refs = {}  # id -> weakref: a weakref must outlive its referent to call back

    def on_release(r):
        released[0] += 1
        del refs[id(r)]

    def fresh():
        p = np.arange(16, dtype=np.float32).view(Arr)
        r = weakref.ref(p, on_release)
        refs[id(r)] = r
        created[0] += 1
        return p

    sources = [
        lambda: astensor.as_tensor(a),
        lambda: astensor.as_tensor(a, dtype=astensor.float32),   # a copy (ARR-11)
        lambda: astensor.as_tensor(ai),
        lambda: astensor.as_tensor(memoryview(ba)),
        lambda: astensor.as_tensor(lst),
        lambda: astensor.as_tensor(a[::-2], copy=True),
        lambda: astensor.as_tensor(fresh()[1:]),                  # shared (ARR-1)
        lambda: astensor.as_tensor(S.DLPackOnly(fresh())),         # shared via DLPack (DLP-1)
    ]

    def run(n):
        for i in range(n):
            t = sources[i % len(sources)]()
            del t
    run(20_000)  # warm up caches, allocator arenas
    gc.collect()
    counts = [sys.getrefcount(x) for x in (a, ai, ba, lst)]
    created0 = created[0]
    mem0 = memory_in_use()
    run(N_CONVERSIONS)
    gc.collect()
    growth = memory_in_use() - mem0
    print(f"reliability: {N_CONVERSIONS} conversions, memory growth {growth / 2**20:.2f} MiB"
          f" ({'ASan live heap' if under_asan() else 'RSS'})")
    assert growth < 4 * 2**20, f"memory grew by {growth} bytes over {N_CONVERSIONS} conversions"
    assert [sys.getrefcount(x) for x in (a, ai, ba, lst)] == counts
    assert created[0] - created0 == 2 * N_CONVERSIONS // len(sources)
    assert released == created and not refs, \
        f"{created[0]} fresh producers, {released[0]} released"


def _work(seed: int):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((64, 48))
    out = []
    out.append(np.asarray(astensor.as_tensor(a.T, dtype=astensor.float32)).copy())
    out.append(np.asarray(astensor.as_tensor(a[::3, ::-1], copy=True)).copy())
    out.append(np.asarray(astensor.as_tensor(a.astype(">f8"))).copy())            # byte order
    out.append(np.asarray(astensor.as_tensor(a.round().astype(np.int64).tolist())).copy())
    out.append(np.asarray(astensor.reference.as_tensor(a.T, dtype=astensor.float16)).copy())
    return out


def test_threads_convert_concurrently_like_serial():
    """XFER-3: 8 threads x 40 conversion batches at once give the serial results."""
    seeds = list(range(40))
    serial = [_work(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=8) as ex:
        parallel = list(ex.map(_work, seeds))
    for s, p in zip(serial, parallel):
        for x, y in zip(s, p):
            assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.mark.skipif(astensor.device_count("sim") == 0, reason="no sim device in this build")
def test_threads_share_sim_transfers_like_serial():
    """XFER-3 on sim: threads sharing the pinned pool and the sim streams get serial results."""
    def work(seed):
        a = np.random.default_rng(seed).standard_normal((128, 96))
        d = astensor.as_tensor(a.T, dtype=astensor.float32, device="sim:0")
        return np.asarray(astensor.as_tensor(d, device="cpu")).copy()
    serial = [work(s) for s in range(24)]
    with ThreadPoolExecutor(max_workers=6) as ex:
        parallel = list(ex.map(work, range(24)))
    assert all(np.array_equal(x, y) for x, y in zip(serial, parallel))


def _work_large(seed: int):
    """Conversions of 2-4 MiB arrays: above entry.cpp's 1 MiB threshold, so each runs without
    the GIL (test_reliability_gil.py) and the threads' copies really overlap, sharing the CPU
    kernels' threads and, on sim, the pinned staging pool and the sim streams."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((512, 1024))                                   # 4 MiB float64
    out = [
        astensor.as_tensor(a.T, dtype=astensor.float32),                   # cast, TEN-3 order
        astensor.as_tensor(a[::2, ::-1], copy=True),                       # strided gather
        astensor.as_tensor(a.astype(">f8")),                               # byte swap (ARR-4)
        astensor.reference.as_tensor(a[:, ::2], dtype=astensor.float16),
        astensor.as_tensor(astensor.as_tensor(a), dtype=astensor.bfloat16),  # tensor cast
    ]
    if astensor.device_count("sim") > 0:
        d = astensor.as_tensor(a[::-1], dtype=astensor.float32, device="sim:0")
        out.append(astensor.as_tensor(d, device="cpu"))                   # there and back
        if astensor.device_count("sim") > 1:
            out.append(astensor.as_tensor(astensor.as_tensor(d, device="sim:1"), device="cpu"))
    return [(r.dtype.name, tuple(r.shape), tuple(r.stride()),
             np.ascontiguousarray(np.asarray(r)).view(np.uint8).tobytes()) for r in out]


def test_threads_convert_large_arrays_concurrently_like_serial():
    """XFER-3 / XFER-2, issue 7: 6 threads converting arrays large enough to release the GIL
    (so their copies run at the same time, CPU and sim) give bit for bit the serial results:
    dtype, shape, strides and bytes."""
    seeds = list(range(12))
    serial = [_work_large(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=6) as ex:
        parallel = list(ex.map(_work_large, seeds))
    for s, (x, y) in enumerate(zip(serial, parallel)):
        assert len(x) == len(y)
        for k, (u, v) in enumerate(zip(x, y)):
            assert u == v, f"seed {s}, conversion {k}: threaded result differs from the serial one"
