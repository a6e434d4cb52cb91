"""CUDA: sharing with torch and CuPy, exports, producers' pending work, casts against torch,
typed errors, threads, bool bytes (issue 11 section 5; CAI-1..4, DLP-1..3, DEV-3, XFER-1..2).

Every test skips, with the reason, where astensor sees no CUDA device; those that need torch
or CuPy (with CUDA) skip when it is missing. On a GPU the whole file takes a few seconds (the
producer tests each keep a stream busy for about 0.15 s).

The producer tests (DLP-2, CAI-3) queue a long sleep and then a fill on a side stream, and
convert while that work is still pending: a conversion that does not wait for the producer's
stream reads the zeros from before the fill."""

import concurrent.futures
import warnings

import numpy as np
import pytest

import astensor
from adapters import DTYPE_NAMES

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
try:
    import cupy
except ImportError:  # pragma: no cover
    cupy = None


def _cuda_missing_reason():
    if astensor.device_count("cuda") > 0:
        return None
    try:
        astensor.as_tensor([0], device="cuda")  # raises, saying what was found (DEV-3)
    except RuntimeError as e:
        return f"no CUDA device: {e}"
    return "no CUDA device"


_NO_CUDA = _cuda_missing_reason()
pytestmark = pytest.mark.skipif(_NO_CUDA is not None, reason=_NO_CUDA or "")


def _torch_missing_reason():
    if torch is None:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "torch has no CUDA"
    return None


def _cupy_missing_reason():
    if cupy is None:
        return "cupy is not installed"
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return "cupy sees no CUDA device"
    except Exception as e:  # cupy without a usable driver raises CUDARuntimeError
        return f"cupy cannot use CUDA: {e}"
    return None


needs_torch = pytest.mark.skipif(_torch_missing_reason() is not None, reason=_torch_missing_reason() or "")
needs_cupy = pytest.mark.skipif(_cupy_missing_reason() is not None, reason=_cupy_missing_reason() or "")

SLEEP_CYCLES = int(3e8)  # about 0.15 s at the H200's clock
N = 1 << 22  # elements of each producer's array


def host(t):
    """An astensor tensor's values as a NumPy array (copied to the CPU by the library)."""
    return np.asarray(astensor.as_tensor(t, device="cpu"))


def sync():
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()
    if cupy is not None and _cupy_missing_reason() is None:
        cupy.cuda.runtime.deviceSynchronize()


# --- sharing: torch and CuPy arrays become astensor tensors without a copy (CAI-2, DLP-1) ---

@needs_torch
def test_torch_cuda_tensors_are_shared_with_writes_seen_both_ways():
    x = torch.arange(24, dtype=torch.float32, device="cuda").reshape(4, 6)
    t = astensor.as_tensor(x)
    assert str(t.device) == "cuda:0" and t.data_ptr() == x.data_ptr()
    x[1, 2] = 100.0
    torch.cuda.synchronize()
    assert host(t)[1, 2] == 100.0, "a torch write is seen through the astensor tensor"
    t[0, 0] = -5.0
    torch.cuda.synchronize()
    assert x[0, 0].item() == -5.0, "an astensor write is seen through torch"
    for v in (x[:, ::2], x.t(), x[1:, 3:], x[::2, 1::3]):  # torch has no negative strides
        tv = astensor.as_tensor(v)
        assert tv.data_ptr() == v.data_ptr(), "strided views are shared too"
        assert tv.shape == tuple(v.shape) and tv.stride() == tuple(v.stride())
        np.testing.assert_array_equal(host(tv), v.cpu().numpy())


@needs_cupy
def test_cupy_arrays_are_shared_with_writes_seen_both_ways():
    c = cupy.arange(24, dtype=cupy.float64).reshape(4, 6)
    t = astensor.as_tensor(c)
    assert str(t.device) == "cuda:0" and t.data_ptr() == c.data.ptr
    c[1, 2] = 100.0
    cupy.cuda.runtime.deviceSynchronize()
    assert host(t)[1, 2] == 100.0
    t[0, 0] = -5.0
    cupy.cuda.runtime.deviceSynchronize()
    assert float(c[0, 0]) == -5.0
    # Negative strides through __cuda_array_interface__ only: CuPy 14's DLPack export writes a
    # negative stride divided as an unsigned number (seen on the H200: -48 bytes of float64 came
    # as 2305843009213693946 elements), which the import refuses as overflowing (a ValueError,
    # checked below), so the DLPack-first path cannot share such a view.
    for v, via in ((c[:, ::2], None), (c.T, None), (c[1:, 3:], None), (c[::-1, ::2], "cai")):
        tv = astensor.as_tensor(CAIOnly(v, None) if via == "cai" else v)
        assert tv.data_ptr() == v.data.ptr
        assert tv.strides == tuple(v.strides)  # bytes, as NumPy and CuPy count them
        np.testing.assert_array_equal(host(tv), cupy.asnumpy(v))


# --- exports: astensor CUDA tensors read by torch and CuPy without a copy (DLP-3) ----------

@needs_torch
def test_dlpack_and_cai_exports_are_read_by_torch():
    base = astensor.as_tensor(np.arange(24, dtype=np.float32).reshape(4, 6), device="cuda")
    for t in (base, astensor.as_tensor(torch.from_dlpack(base)[:, ::2])):
        want = host(t)
        for y in (torch.from_dlpack(t), torch.as_tensor(t, device="cuda")):
            assert y.device.type == "cuda" and y.data_ptr() == t.data_ptr()
            assert tuple(y.stride()) == t.stride()
            np.testing.assert_array_equal(y.cpu().numpy(), want)
    y = torch.from_dlpack(base)
    y[3, 5] = 42.0
    torch.cuda.synchronize()
    assert host(base)[3, 5] == 42.0, "a write through the export is seen by the tensor"


@needs_cupy
def test_dlpack_and_cai_exports_are_read_by_cupy():
    base = astensor.as_tensor(np.arange(24, dtype=np.int32).reshape(4, 6), device="cuda")
    strided = astensor.as_tensor(cupy.from_dlpack(base)[::2, 1::2])
    for t in (base, strided):
        want = host(t)
        for c in (cupy.from_dlpack(t), cupy.asarray(t)):  # asarray: __cuda_array_interface__
            assert c.data.ptr == t.data_ptr()
            assert tuple(c.strides) == t.strides
            np.testing.assert_array_equal(cupy.asnumpy(c), want)
    cai = base.__cuda_array_interface__
    assert cai["data"][0] == base.data_ptr() and cai["shape"] == (4, 6) and cai["typestr"] == "<i4"


# --- producers' pending work on a side stream (DLP-2, CAI-3) -------------------------------

def _busy_then_fill(fill):
    """Keeps the current stream busy for a while, then queues fill() on it."""
    torch.cuda._sleep(SLEEP_CYCLES)
    fill()


def _check_sevens(r, what):
    got = host(r)
    stale = int((got != 7).sum())
    assert stale == 0, f"{what}: {stale} of {got.size} elements are stale (the producer's work was not waited on)"


TORCH_PATHS = {
    "to-host": dict(device="cpu"),
    "device-cast": dict(dtype="float64"),
    "to-cuda-cast": dict(device="cuda", dtype="float16"),
    "to-cuda-copy": dict(device="cuda", copy=True),
    "to-host-cast": dict(device="cpu", dtype="int32"),
}


@needs_torch
@pytest.mark.parametrize("path", list(TORCH_PATHS))
def test_dlp2_torch_side_stream_producer_is_waited_on(path):
    x = torch.zeros(N, device="cuda")
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        _busy_then_fill(lambda: x.fill_(7.0))
        r = astensor.as_tensor(x, **TORCH_PATHS[path])
    _check_sevens(r, f"torch producer, {path}")


@needs_torch
def test_dlp2_torch_side_stream_producer_shared_on_the_same_device():
    x = torch.zeros(N, device="cuda")
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        _busy_then_fill(lambda: x.fill_(7.0))
        r = astensor.as_tensor(x, device="cuda")
    assert r.data_ptr() == x.data_ptr(), "no cast, same device: shared, nothing to read"
    torch.cuda.synchronize()
    _check_sevens(r, "torch producer, shared")


@needs_torch
def test_dlp2_torch_side_stream_producer_to_another_device():
    if astensor.device_count("cuda") < 2:
        pytest.skip(f"needs 2 CUDA devices, found {astensor.device_count('cuda')}")
    x = torch.zeros(N, device="cuda:0")
    torch.cuda.synchronize()
    s = torch.cuda.Stream(device="cuda:0")
    with torch.cuda.stream(s):
        _busy_then_fill(lambda: x.fill_(7.0))
        r = astensor.as_tensor(x, device="cuda:1")
    _check_sevens(r, "torch producer, to cuda:1")


def _cupy_busy(stream):
    """Keeps a CuPy stream busy: torch's sleep kernel on it (no NVRTC compile needed)."""
    with torch.cuda.stream(torch.cuda.ExternalStream(stream.ptr)):
        torch.cuda._sleep(SLEEP_CYCLES)


def _cupy_pending_sevens(consume):
    """A CuPy array of zeros whose fill with 7 is still pending on a busy non-blocking CuPy
    stream when `consume(array, stream)` runs (inside that stream's context); its result."""
    c = cupy.zeros(N, dtype=cupy.float32)
    cupy.cuda.runtime.deviceSynchronize()
    s = cupy.cuda.Stream(non_blocking=True)
    with s:
        _cupy_busy(s)
        c.fill(7.0)
        return consume(c, s)


@needs_cupy
@needs_torch
@pytest.mark.parametrize("path", ["to-host", "device-cast", "to-cuda-copy"])
def test_dlp2_cupy_non_blocking_stream_producer_is_waited_on(path):
    # CuPy has __dlpack__: DLPack first.
    r = _cupy_pending_sevens(lambda c, s: astensor.as_tensor(c, **TORCH_PATHS[path]))
    _check_sevens(r, f"cupy producer, {path}")


class CAIOnly:
    """An array offered only through __cuda_array_interface__ (v3), with its stream field
    (None: no stream, nothing to wait for)."""

    def __init__(self, arr, stream_ptr):
        cai = dict(arr.__cuda_array_interface__)
        cai["version"] = 3
        cai["stream"] = stream_ptr
        self.__cuda_array_interface__ = cai
        self.keep = arr


@needs_cupy
def test_cupy_dlpack_negative_strides_are_refused_not_misread():
    """A producer's impossible DLPack stride is a typed error naming it, never a wild read."""
    c = cupy.arange(24, dtype=cupy.float64).reshape(4, 6)
    v = c[::-1, ::2]
    try:
        tv = astensor.as_tensor(v)
    except ValueError as e:
        assert "DLPack stride" in str(e) and "overflows" in str(e)
    else:  # a CuPy whose export is right: then the view must be shared exactly
        assert tv.data_ptr() == v.data.ptr
        np.testing.assert_array_equal(host(tv), cupy.asnumpy(v))


@needs_cupy
@needs_torch
@pytest.mark.parametrize("path", ["to-host", "device-cast", "to-cuda-copy"])
def test_cai3_cupy_cai_only_producer_is_waited_on(path):
    r = _cupy_pending_sevens(lambda c, s: astensor.as_tensor(CAIOnly(c, s.ptr), **TORCH_PATHS[path]))
    _check_sevens(r, f"CAI-only producer, {path}")


@needs_cupy
@needs_torch
def test_cai3_cupy_cai_only_shared_result_is_ordered_on_the_current_stream():
    """A CAI view shared without a copy reads nothing, but the producer's stream is waited on at
    import by the library's current stream, so a conversion of the shared tensor made right after
    (its copies run on that stream) sees the producer's values, not the zeros before them."""
    def share_then_read(c, s):
        shared = astensor.as_tensor(CAIOnly(c, s.ptr))
        assert shared.data_ptr() == c.data.ptr
        return astensor.as_tensor(shared, device="cpu")

    r = _cupy_pending_sevens(share_then_read)
    _check_sevens(r, "CAI-only producer, shared then read to the host")


# --- casts on the device against torch (XFER-2, DT-3) --------------------------------------

def _torch_source(name):
    """A strided CUDA view (every other element) whose values every dtype holds exactly and
    every cast maps the same way in DT-3 and torch (no negatives, no out-of-range values)."""
    vals = [0, 1, 2, 3, 0.5, 2.5, 100, 127] if name.startswith(("float", "bfloat", "complex")) \
        else [0, 1, 2, 3, 5, 7, 100, 127]
    dt = getattr(torch, name)
    if name.startswith("complex"):
        base = torch.tensor([complex(v, v % 3) for v in vals for _ in (0, 1)], dtype=dt)
    elif name == "bool":
        base = torch.tensor([v != 0 for v in vals for _ in (0, 1)])
    else:
        base = torch.tensor([v for v in vals for _ in (0, 1)], dtype=dt)
    return base.cuda()[::2]


def _bytes(y):
    """A torch tensor's values as bytes, in row-major order."""
    return y.contiguous().cpu().view(torch.uint8).numpy().tobytes()


@needs_torch
def test_xfer2_device_to_host_and_device_casts_match_torch():
    names = [n for n in DTYPE_NAMES if hasattr(torch, n)]
    compared, refused = 0, []
    for src in names:
        try:
            x = _torch_source(src)
        except (RuntimeError, TypeError):
            refused.append(f"{src} on CUDA")  # torch cannot make this dtype on CUDA
            continue
        for dst in names:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # complex -> real: torch warns
                    want = _bytes(x.to(getattr(torch, dst)))
            except (RuntimeError, TypeError):
                refused.append(f"{src}->{dst}")  # torch cannot cast this pair on CUDA
                continue
            on_host = astensor.as_tensor(x, dtype=dst, device="cpu")
            on_device = astensor.as_tensor(x, dtype=dst)
            assert str(on_host.device) == "cpu" and str(on_device.device) == "cuda:0"
            assert _bytes(torch.from_dlpack(on_host)) == want, f"{src} -> {dst}, device -> host"
            assert _bytes(torch.from_dlpack(on_device)) == want, f"{src} -> {dst}, device -> device"
            compared += 1
    assert compared >= 12 * 12, f"only {compared} pairs compared; torch refused {refused}"


# --- errors are typed; the process lives and the next call works (issue 11 section 2) -----

def test_errors_are_typed_and_the_next_call_works():
    before = astensor._astensor._storage_stats()
    with pytest.raises(ValueError, match="expected"):
        astensor.as_tensor([1, [2, 3]])
    if astensor.device_count("cuda") <= 7:
        with pytest.raises(RuntimeError, match="cuda:7"):
            astensor.as_tensor(np.ones(2), device="cuda:7")
    if astensor.device_count("sim") <= 7:
        with pytest.raises(RuntimeError, match="sim:7"):
            astensor.as_tensor(np.ones(2), device="sim:7")
    assert astensor._astensor._storage_stats() == before, "nothing left allocated"
    assert host(astensor.as_tensor([1.5, 2.5], device="cuda")).tolist() == [1.5, 2.5]


def test_out_of_memory_is_a_runtime_error_naming_size_and_device():
    nbytes = 1 << 40  # 1 TiB of float64, more than any card holds
    huge = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(nbytes // 8,), strides=(0,))
    before = astensor._astensor._storage_stats()
    with pytest.raises(RuntimeError, match="cuda") as e:
        astensor.as_tensor(huge, device="cuda")
    assert str(nbytes) in str(e.value), f"the message names the size: {e.value}"
    assert astensor._astensor._storage_stats() == before
    assert host(astensor.as_tensor(np.arange(3.0), device="cuda")).tolist() == [0.0, 1.0, 2.0]


@needs_torch
def test_out_of_memory_from_a_device_source():
    n = (1 << 40) // 8
    x = torch.zeros(1, device="cuda").expand(n)  # stride 0: 4 bytes on the card
    before = astensor._astensor._storage_stats()
    with pytest.raises(RuntimeError, match="cuda"):
        astensor.as_tensor(x, dtype="float64")  # a device cast into 1 TiB
    with pytest.raises(RuntimeError, match="cuda"):
        astensor.as_tensor(x, device="cuda", copy=True)  # a device copy of 512 GiB
    assert astensor._astensor._storage_stats() == before
    assert host(astensor.as_tensor(torch.ones(3, device="cuda"), dtype="int8")).tolist() == [1, 1, 1]


# --- threads -------------------------------------------------------------------------------

def test_threads_convert_concurrently():
    def work(i):
        bad = []
        for j in range(15):
            a = (np.arange(1000, dtype=np.float32) + 1000 * i + j).reshape(40, 25)[:, ::2]
            d = astensor.as_tensor(a, device="cuda", dtype="float64" if j % 2 else None)
            back = host(astensor.as_tensor(d, dtype="float32"))
            if not np.array_equal(back, a):
                bad.append(j)
        return bad

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    assert results == [[]] * 8, f"mismatches per thread: {results}"


# --- bool bytes 2..255 read as true (issue 11 section 6) -----------------------------------

BOOL_BYTES = np.array([0, 1, 2, 127, 128, 255] * 12, dtype=np.uint8)  # 72: vector kernel + tail
TRUTH = (BOOL_BYTES != 0).astype(np.uint8)


def _truth(arr):
    """Values as float64, a bool element as 0 or 1 whatever its byte (a copied bool byte may
    stay 2..255 when no cast runs: it is still true)."""
    if arr.dtype == np.bool_:
        return (arr.view(np.uint8) != 0).astype(np.float64)
    return (arr.real if arr.dtype.kind == "c" else arr).astype(np.float64)


@pytest.mark.parametrize("to", ["bool", "uint8", "int32", "float16", "float32", "complex64"])
def test_bool_bytes_from_the_host(to):
    a = BOOL_BYTES.view(np.bool_)
    np.testing.assert_array_equal(_truth(np.asarray(astensor.as_tensor(a, dtype=to))), TRUTH, "on the CPU")
    d = astensor.as_tensor(a, device="cuda")  # no cast: the bytes as they are, on the card
    for what, r in (("host -> cuda", astensor.as_tensor(a, device="cuda", dtype=to)),
                    ("cuda -> cuda", astensor.as_tensor(d, dtype=to)),       # the cast kernel
                    ("cuda -> host", astensor.as_tensor(d, dtype=to, device="cpu")),
                    ("cuda[1::2] -> cuda", astensor.as_tensor(torch.from_dlpack(d)[1::2], dtype=to)
                     if _torch_missing_reason() is None else None)):
        if r is None:
            continue
        want = TRUTH[1::2] if "[1::2]" in what else TRUTH
        np.testing.assert_array_equal(_truth(host(r)), want, f"bool -> {to}, {what}")


@needs_torch
@pytest.mark.parametrize("to", ["uint8", "int64", "float32", "bfloat16", "complex128"])
def test_bool_bytes_from_a_device_uint8_view(to):
    x = torch.from_numpy(BOOL_BYTES).cuda().view(torch.bool)  # bytes 2..255 as bool
    for view in (x, x[1::2]):
        want = (view.view(torch.uint8) != 0).to(getattr(torch, to))
        for kw in (dict(dtype=to), dict(dtype=to, device="cpu")):
            r = astensor.as_tensor(view, **kw)
            assert _bytes(torch.from_dlpack(r)) == _bytes(want), f"bool -> {to}, {kw}"


# --- XFER-4: non-blocking conversions (issue 15) ---------------------------------------------
# A torch stream is kept busy (torch.cuda._sleep) and named with stream=, so the conversion's
# copy is queued behind the sleep and still pending when the call returns. Not yet run on a GPU.


@needs_torch
def test_xfer4_host_to_device_on_a_named_torch_stream():
    s = torch.cuda.Stream()
    a = np.arange(1 << 20, dtype=np.float32)
    want = a.copy()
    with torch.cuda.stream(s):
        torch.cuda._sleep(SLEEP_CYCLES)
    t = astensor.as_tensor(a, device="cuda", non_blocking=True, stream=s)
    pending_at_return = not t.is_ready()
    a[:] = -1  # the source has been read (staged): overwriting it changes nothing
    # torch work queued later on the same stream sees the result, with no host wait.
    with torch.cuda.stream(s):
        seen = torch.from_dlpack(t).clone()  # __dlpack__ orders torch's current stream (s)
    s.synchronize()
    np.testing.assert_array_equal(seen.cpu().numpy(), want)
    assert t.is_ready()
    if not pending_at_return:
        pytest.skip("inconclusive: the sleep ended before the call returned")


@needs_torch
def test_xfer4_exports_order_or_wait():
    s = torch.cuda.Stream()
    a = np.arange(1 << 20, dtype=np.float32)
    with torch.cuda.stream(s):
        torch.cuda._sleep(SLEEP_CYCLES)
    t = astensor.as_tensor(a, device="cuda", non_blocking=True, stream=s)
    cai = t.__cuda_array_interface__
    assert cai["stream"] == s.cuda_stream, "CAI names the stream the work is queued on"
    other = torch.cuda.Stream()
    with torch.cuda.stream(other):  # a consumer on another stream: DLPack makes it wait
        seen = torch.from_dlpack(t).clone()
    other.synchronize()
    np.testing.assert_array_equal(seen.cpu().numpy(), a)


@needs_torch
def test_xfer4_device_to_host_reads_wait():
    x = torch.arange(1 << 20, dtype=torch.float64, device="cuda")
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        torch.cuda._sleep(SLEEP_CYCLES)
    r = astensor.as_tensor(x, device="cpu", dtype=astensor.float32, non_blocking=True, stream=s)
    pending_at_return = not r.is_ready()
    np.testing.assert_array_equal(np.asarray(r), x.cpu().numpy().astype(np.float32))
    assert r.is_ready()
    if not pending_at_return:
        pytest.skip("inconclusive: the sleep ended before the call returned")


def test_xfer4_errors_come_from_the_call():
    with pytest.raises(RuntimeError):
        astensor.as_tensor(np.ones(4), device="cuda:99", non_blocking=True)
