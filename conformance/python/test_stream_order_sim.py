"""DLP-2 on the simulated accelerator (issue 11 sections 1 and 5): a DLPack producer with
pending work on its own device stream, talking to as_tensor through the same protocol a CUDA
producer uses (torch with a side stream, cupy on a non-blocking stream), so CI sees the class of
bug that returned stale zeros on a real GPU.

The producer (SimProducer) is a sim tensor of zeros plus, queued on the producer's own sim
stream, a 150 ms pause and then a fill with 7s. Its __dlpack_device__ says (kDLExtDev = 12,
index), as our own export writes sim devices; its __dlpack__(stream=S) makes S wait for that
work before returning a capsule, exactly what the DLPack protocol asks of a producer. sim models
CUDA's streams (Note [sim streams model CUDA]): the library's streams are not ordered after
sim's "legacy default stream" (1), so a consumer that names 1 and reads on its own streams
reads zeros, as on the GPU. Every test below reads a result that must be all 7s.

The hooks come from astensor._astensor._sim_testing (test-only; python/src/sim_testing.cpp)."""

import numpy as np
import pytest

import astensor
from test_dlpack import Producer

HAVE_SIM = astensor.device_count("sim") > 1
pytestmark = pytest.mark.skipif(not HAVE_SIM, reason="needs the two sim devices of a build with sim")

if HAVE_SIM:
    from astensor._astensor import _sim_testing as st

KDL_EXT_DEV = 12
PAUSE_US = 150_000
N = 1 << 15
VALUE = 7.0


class SimProducer:
    """A DLPack producer whose data is still being written on its own sim stream."""

    def __init__(self, device=0, dtype=np.float32, legacy=False, with_device=True):
        self.device = device
        self.tensor = astensor.as_tensor(np.zeros(N, dtype), device=f"sim:{device}")  # ready: blocking
        self.stream = st.stream(device)
        self.legacy = legacy  # a producer older than DLPack 1.0: no max_version keyword
        self.streams_named = []
        st.sleep(device, self.stream, PAUSE_US)
        st.fill(device, self.stream, self.tensor, VALUE)
        if with_device:
            self.__dlpack_device__ = lambda: (KDL_EXT_DEV, self.device)

    def __dlpack__(self, *, stream=None, **kw):
        if self.legacy and "max_version" in kw:
            raise TypeError("__dlpack__() got an unexpected keyword argument 'max_version'")
        max_version = kw.get("max_version")
        # DLPack: the producer's pending work must be done before the consumer's stream
        # (None: the legacy default stream; -1: no synchronization asked).
        named = 1 if stream is None else stream
        self.streams_named.append(stream)
        if named != -1:
            st.wait(self.device, named, self.stream)
        return st.capsule(self.tensor, versioned=max_version is not None and max_version[0] >= 1)

    def close(self):
        st.synchronize(self.device, self.stream)
        st.destroy_stream(self.device, self.stream)


@pytest.fixture
def producer(request):
    made = []

    def make(**kw):
        p = SimProducer(**kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def values(t):
    """t's elements on the host as float64 (through the reference, whose copies are blocking)."""
    if str(t.device) != "cpu":
        t = astensor.reference.as_tensor(t, device="cpu")
    return np.asarray(t.numpy(), dtype=np.float64)


def assert_all_value(t, what):
    v = values(t)
    stale = int(np.count_nonzero(v != VALUE))
    assert stale == 0, f"{what}: {stale} of {v.size} elements read before the producer's work finished"


# Every transfer path of a device source: (device, dtype) of the result.
PATHS = [
    pytest.param("cpu", None, id="to-cpu"),
    pytest.param("cpu", "float64", id="to-cpu-widening-cast"),      # cast on the host
    pytest.param("cpu", "float16", id="to-cpu-narrowing-cast"),     # a kernel on the cast stream
    pytest.param("sim:0", "float64", id="same-device-cast"),
    pytest.param("sim:0", "int8", id="same-device-narrowing-cast"),
    pytest.param("sim:1", None, id="other-device"),
    pytest.param("sim:1", "float64", id="other-device-cast"),
    pytest.param("sim:1", "int16", id="other-device-narrowing-cast"),
]


@pytest.mark.parametrize("device,dtype", PATHS)
@pytest.mark.parametrize("legacy", [False, True], ids=["versioned", "legacy-capsule"])
def test_dlp2_every_path_reads_after_the_producers_pending_work(producer, device, dtype, legacy):
    """DLP-2: the consumer names the stream its reads run on and orders every other stream it
    uses after it, so no path reads the producer's data before its pending work is done."""
    p = producer(legacy=legacy)
    kw = {"device": device}
    if dtype is not None:
        kw["dtype"] = getattr(astensor, dtype)
    r = astensor.as_tensor(p, **kw)
    assert str(r.device) == device
    assert_all_value(r, f"as_tensor(producer, {kw})")


def test_dlp2_the_consumer_names_its_current_stream(producer):
    """DLP-2: the stream named to the producer is the library's current stream of the device
    (an int handle), not the legacy default stream (1) that the library never reads on."""
    p = producer()
    astensor.as_tensor(p, device="cpu")
    assert p.streams_named[-1] == st.current_stream(0)
    assert p.streams_named[-1] not in (None, 0, 1, 2)


def test_dlp2_a_shared_result_is_ready_for_work_on_the_current_stream(producer):
    """DLP-2, DLP-1: the same-device zero-copy share reads nothing; its memory is ready for work
    the library queues afterwards (on its current stream, which the producer made wait)."""
    p = producer()
    shared = astensor.as_tensor(p)  # same device, same dtype: shared
    assert str(shared.device) == "sim:0"
    # The later read of the shared tensor is the library's own, on its current stream.
    assert_all_value(astensor.as_tensor(shared, device="cpu"), "a read of the shared tensor")


@pytest.mark.parametrize("device,dtype", [pytest.param("cpu", "float16", id="to-cpu-narrowing-cast"),
                                          pytest.param("sim:1", None, id="other-device")])
def test_dlp2_a_producer_without_dlpack_device_is_read_after_the_legacy_stream(producer, device, dtype):
    """DLP-2: asked with no stream (no __dlpack_device__ to say the device), a producer orders
    its work before the legacy default stream (DLPack's None); the library then waits for it."""
    p = producer(with_device=False)
    kw = {"device": device}
    if dtype is not None:
        kw["dtype"] = getattr(astensor, dtype)
    r = astensor.as_tensor(p, **kw)
    assert p.streams_named == [None]
    assert_all_value(r, f"as_tensor(producer without __dlpack_device__, {kw})")


def test_dlp2_sim_extension_device_errors_say_what_exists():
    """DEV-3: kDLExtDev names sim:N [ext]; an index sim does not have is a RuntimeError saying
    what was found, asked before __dlpack__ is called (no stream of a missing device)."""

    class Missing:
        called = False

        def __dlpack_device__(self):
            return (KDL_EXT_DEV, 7)

        def __dlpack__(self, **kw):
            Missing.called = True
            raise AssertionError("not reached")

    with pytest.raises(RuntimeError, match="sim:7"):
        astensor.as_tensor(Missing())
    assert not Missing.called

    class Negative(Missing):
        def __dlpack_device__(self):
            return (KDL_EXT_DEV, -1)

    with pytest.raises(ValueError, match="device id -1"):
        astensor.as_tensor(Negative())


def test_dlp2_a_capsule_on_another_device_than_announced_is_refused(producer):
    """DLP-2: the stream named belongs to the device __dlpack_device__ announced; a capsule on
    another device is refused (ValueError naming both), and its deleter still runs."""
    p = producer(device=1)
    p.__dlpack_device__ = lambda: (KDL_EXT_DEV, 0)
    with pytest.raises(ValueError, match="sim:0.*sim:1"):
        astensor.as_tensor(p, device="cpu")


@pytest.mark.parametrize("device_type", [4, 10, 14], ids=["opencl", "rocm", "oneapi"])
def test_dlp1_unsupported_device_types_name_the_supported_ones(device_type):
    """DLP-1: a DLPack device type we do not read is a TypeError listing the supported ones,
    sim's extension device (12) among them, as an [ext] test device."""
    buf = np.zeros(4, np.float32)
    p = Producer(buf, (4,), code=2, bits=32, device=(device_type, 0))
    with pytest.raises(TypeError, match=r"device type %d .*extension device \(12\).*sim:N \[ext\]" % device_type):
        astensor.as_tensor(p.capsule)
