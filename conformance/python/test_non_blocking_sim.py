"""XFER-4 [ext] (issue 15): as_tensor(..., non_blocking=True, stream=...) on the simulated
accelerator. Before each conversion the stream it will use is kept busy (a queued pause, the
_sim_testing hooks of python/src/sim_testing.cpp), so its device work is still pending when the
call returns; then every way a user can read the result must see the final values, and the
source may be overwritten at once. CUDA runs the same promises in test_cuda.py."""

import numpy as np
import pytest

import astensor

HAVE_SIM = astensor.device_count("sim") > 0
pytestmark = pytest.mark.skipif(not HAVE_SIM, reason="needs the sim devices of a build with sim")

if HAVE_SIM:
    from astensor._astensor import _sim_testing as st

PAUSE_US = 150_000


def busy(stream=None, device=0):
    """Queues a pause on `stream` (default: the library's current stream of sim:device)."""
    s = st.current_stream(device) if stream is None else stream
    st.sleep(device, s, PAUSE_US)
    return s


def test_host_to_device_returns_before_the_copy_and_the_source_may_change():
    a = np.arange(10_000, dtype=np.float32)
    want = a.copy()
    busy()
    t = astensor.as_tensor(a, device="sim:0", non_blocking=True)
    assert not t.is_ready(), "the copy is queued behind a 150 ms pause"
    a[:] = -1  # XFER-4: the source has been read
    back = astensor.as_tensor(t, device="cpu")  # a read through the library waits
    assert t.is_ready()
    np.testing.assert_array_equal(back.numpy(), want)


@pytest.mark.parametrize("read", ["numpy", "asarray", "memoryview", "tolist", "item", "array",
                                  "dlpack", "repr", "index"])
def test_device_to_host_result_is_final_through_every_read(read):
    n = 1 if read == "item" else 4096
    src = np.arange(n, dtype=np.float64) * 3
    dev = astensor.as_tensor(src, device="sim:0")  # blocking: final
    busy()
    r = astensor.as_tensor(dev, device="cpu", dtype=astensor.float32, non_blocking=True)
    assert not r.is_ready()
    want = src.astype(np.float32)
    if read == "numpy":
        got = r.numpy()
    elif read == "asarray":
        got = np.asarray(r)
    elif read == "memoryview":
        got = np.frombuffer(memoryview(r), dtype=np.float32)
    elif read == "tolist":
        got = np.array(r.tolist(), dtype=np.float32)
    elif read == "item":
        got = np.array([r.item()], dtype=np.float32)
    elif read == "array":
        got = np.array(r, copy=True)  # __array__ / the buffer protocol
    elif read == "dlpack":
        got = np.from_dlpack(r)
    elif read == "repr":
        assert "1.2285e+04" in repr(r), "the last value, printed by repr, is final"
        got = r.numpy()
    else:
        got = np.array([float(r[i]) for i in range(min(n, 8))], dtype=np.float32)
        want = want[: min(n, 8)]
    np.testing.assert_array_equal(got, want)
    assert r.is_ready()


def test_named_stream_orders_the_work():
    s = st.stream(0)
    try:
        a = np.arange(5000, dtype=np.int32)
        busy(stream=s)
        t = astensor.as_tensor(a, device="sim:0", non_blocking=True, stream=s)
        assert not t.is_ready(), "the work is queued on the named (busy) stream"
        # The library's current stream is idle: the named stream, not it, holds the work.
        st.synchronize(0, st.current_stream(0))
        assert not t.is_ready()
        st.synchronize(0, s)
        assert t.is_ready()
        np.testing.assert_array_equal(astensor.as_tensor(t, device="cpu").numpy(), a)
    finally:
        st.destroy_stream(0, s)


def test_synchronize_and_writes_wait():
    a = np.zeros(4096, dtype=np.float32)
    dev = astensor.as_tensor(np.arange(4096, dtype=np.float32), device="sim:0")
    busy()
    r = astensor.as_tensor(dev, device="cpu", non_blocking=True)
    r[0] = 42.0  # a write must land after the copy, not under it
    r.synchronize()
    assert r.is_ready()
    got = r.numpy()
    assert got[0] == 42.0 and got[1] == 1.0 and got[-1] == 4095.0
    del a


def test_cpu_only_conversions_ignore_non_blocking():
    a = np.arange(10.0)
    t = astensor.as_tensor(a, non_blocking=True)
    assert t.is_ready()
    t[0] = 5.0
    assert a[0] == 5.0, "still shared (ARR-1)"
    c = astensor.as_tensor(a, dtype=astensor.float32, non_blocking=True)
    assert c.is_ready() and c.numpy()[0] == 5.0


def test_errors_come_from_the_call():
    a = np.ones(16, dtype=np.float32)
    with pytest.raises(RuntimeError, match="sim:7"):
        astensor.as_tensor(a, device="sim:7", non_blocking=True)
    big = np.lib.stride_tricks.as_strided(np.ones(1, np.float32), shape=(1 << 40,), strides=(0,))
    with pytest.raises(RuntimeError):
        astensor.as_tensor(big, device="sim:0", non_blocking=True)


@pytest.mark.parametrize("value,kind", [(0, ValueError), (-3, ValueError), ("s", TypeError), (True, TypeError),
                                        (1.5, TypeError), (2**70, OverflowError)])
def test_bad_stream_values(value, kind):
    with pytest.raises(kind):
        astensor.as_tensor(np.ones(4), device="sim:0", stream=value)


def test_non_blocking_must_be_a_bool():
    with pytest.raises(TypeError, match="non_blocking"):
        astensor.as_tensor(np.ones(4), device="sim:0", non_blocking=1)


def test_explain_and_reference():
    a = np.ones(1 << 12, dtype=np.float32)
    assert "non-blocking" in astensor.explain(a, device="sim:0", non_blocking=True)
    assert "non-blocking" not in astensor.explain(a, device="sim:0")
    r = astensor.reference.as_tensor(a, device="sim:0", non_blocking=True)
    assert r.is_ready(), "the reference is blocking, which XFER-4 allows"


def test_nested_python_data_too():
    """Nested lists are filled into a host temporary, whose transfer is non-blocking as well."""
    data = [[float(i), float(i + 1)] for i in range(5000)]
    busy()
    t = astensor.as_tensor(data, device="sim:0", non_blocking=True)
    assert not t.is_ready(), "the host temporary's copy is queued behind the pause"
    np.testing.assert_array_equal(astensor.as_tensor(t, device="cpu").numpy(), np.array(data, np.float32))
    assert t.is_ready()
