"""XFER-4 [ext] (issue 15) on CUDA: astensor.Stream, and torch and CuPy as consumers of a
non-blocking result. An astensor.Stream is held by torch's spin kernel (torch.cuda._sleep on an
ExternalStream of the same cudaStream_t), so a conversion queued on it is still pending when the
consumer takes the result: a consumer whose stream is not ordered after that work reads the
bytes from before the copy (the device allocator's leftovers, not the source). Each test skips
with the reason where there is no CUDA device, torch or CuPy (the skip helpers of test_cuda.py),
and says "inconclusive" when the spin ended before the result was consumed. Written in a session
without a GPU: not yet run on one. The sim twin is test_stream_object.py."""

import numpy as np
import pytest

import astensor
from test_cuda import SLEEP_CYCLES, N, cupy, host, needs_cupy, needs_torch, torch


def _held_astensor_stream():
    """A new astensor.Stream of the current CUDA device with a long spin kernel queued on it."""
    s = astensor.Stream("cuda")
    with torch.cuda.stream(torch.cuda.ExternalStream(s.cuda_stream)):
        torch.cuda._sleep(SLEEP_CYCLES)
    return s


def _pending_result_on_a_held_stream():
    """(stream, tensor, expected values): a host -> device non-blocking conversion queued on a
    held astensor.Stream, the source overwritten right after the call (XFER-4)."""
    s = _held_astensor_stream()
    a = np.arange(N, dtype=np.float32)
    want = a.copy()
    t = astensor.as_tensor(a, device="cuda", non_blocking=True, stream=s)
    a[:] = -1
    return s, t, want


def _inconclusive_unless(pending):
    if not pending:
        pytest.skip("inconclusive: the spin kernel ended before the result was consumed")


@needs_torch
def test_xfer4_astensor_stream_is_the_cuda_stream_it_names():
    s = astensor.Stream("cuda")
    assert s.device == astensor.Device("cuda", torch.cuda.current_device())
    assert s.cuda_stream == s.handle and s.handle not in (0, 1, 2)
    assert torch.cuda.ExternalStream(s.cuda_stream).cuda_stream == s.handle
    c = astensor.Stream.current("cuda")
    assert not c.owned and c == astensor.Stream.current("cuda") and c != s
    with pytest.raises(ValueError, match="the CPU has no streams"):
        astensor.Stream("cpu")
    with pytest.raises(RuntimeError, match="cuda:99"):
        astensor.Stream("cuda:99")


@needs_torch
def test_xfer4_conversion_is_ordered_on_the_astensor_stream():
    s, t, want = _pending_result_on_a_held_stream()
    pending = not t.is_ready()
    if pending:
        assert t.__cuda_array_interface__["stream"] == s.handle, "CAI names the Stream"
        astensor.Stream.current("cuda").synchronize()
        assert not t.is_ready(), "the work is on s (spinning for ~0.15 s), not on the current stream"
    s.synchronize()
    assert t.is_ready()
    np.testing.assert_array_equal(host(t), want)
    _inconclusive_unless(pending)


@needs_torch
def test_xfer4_astensor_stream_of_another_device_is_refused():
    if astensor.device_count("cuda") < 2:
        pytest.skip(f"needs 2 CUDA devices, found {astensor.device_count('cuda')}")
    with pytest.raises(ValueError, match=r"cuda:1.*runs on cuda:0"):
        astensor.as_tensor(np.ones(4), device="cuda:0", stream=astensor.Stream("cuda:1"))


@needs_torch
def test_xfer4_wait_stream_on_cuda():
    s, t, want = _pending_result_on_a_held_stream()
    pending = not t.is_ready()
    s2 = astensor.Stream("cuda")
    s2.wait_stream(s)
    # torch work on s2 (an ExternalStream of it) now runs after the copy on s.
    with torch.cuda.stream(torch.cuda.ExternalStream(s2.cuda_stream)):
        y = torch.as_tensor(t, device="cuda")  # a view through __cuda_array_interface__
        z = y.clone()
    s2.synchronize()
    np.testing.assert_array_equal(z.cpu().numpy(), want)
    _inconclusive_unless(pending)


@needs_torch
def test_xfer4_torch_consumer_through_dlpack_on_its_own_stream():
    """torch.from_dlpack passes torch's current stream to __dlpack__, which makes it wait for
    the pending copy (DLP-2, producer side); torch's read on that stream sees the final bytes."""
    _s, t, want = _pending_result_on_a_held_stream()
    other = torch.cuda.Stream()
    pending = not t.is_ready()
    with torch.cuda.stream(other):
        y = torch.from_dlpack(t)
        z = y.clone()
    other.synchronize()
    assert y.data_ptr() == t.data_ptr(), "shared, not copied"
    np.testing.assert_array_equal(z.cpu().numpy(), want)
    _inconclusive_unless(pending)


@needs_torch
def test_xfer4_torch_consumer_through_cuda_array_interface():
    """torch.as_tensor(t, device='cuda') shares t through __cuda_array_interface__, whose
    `stream` names the Stream the copy is queued on; a consumer that waits for that stream (as
    CAI v3 asks of consumers; done here explicitly, torch may not) reads the final bytes."""
    s, t, want = _pending_result_on_a_held_stream()
    other = torch.cuda.Stream()
    pending = not t.is_ready()
    cai = t.__cuda_array_interface__
    if pending:
        assert cai["stream"] == s.handle
    with torch.cuda.stream(other):
        y = torch.as_tensor(t, device="cuda")
        if cai["stream"] is not None:
            other.wait_stream(torch.cuda.ExternalStream(cai["stream"]))
        z = y.clone()
    other.synchronize()
    assert y.data_ptr() == t.data_ptr(), "shared, not copied"
    np.testing.assert_array_equal(z.cpu().numpy(), want)
    _inconclusive_unless(pending)


@needs_cupy
@needs_torch
def test_xfer4_cupy_consumer_through_dlpack_on_its_own_stream():
    """cupy.from_dlpack passes CuPy's current stream to __dlpack__ (DLP-2): that stream waits
    for the pending copy, so CuPy's read on it (asnumpy) sees the final bytes."""
    _s, t, want = _pending_result_on_a_held_stream()
    cs = cupy.cuda.Stream(non_blocking=True)
    pending = not t.is_ready()
    with cs:
        c = cupy.from_dlpack(t)
        got = cupy.asnumpy(c)  # on cs
    assert c.data.ptr == t.data_ptr(), "shared, not copied"
    np.testing.assert_array_equal(got, want)
    _inconclusive_unless(pending)


@needs_cupy
@needs_torch
def test_xfer4_cupy_consumer_through_cuda_array_interface():
    """cupy.asarray reads __cuda_array_interface__ and, by default, synchronizes the `stream` it
    names (CAI v3 consumer; CUPY_CUDA_ARRAY_INTERFACE_SYNC=0 would turn that off): the copy on
    the astensor.Stream has then ended, and CuPy's read sees the final bytes."""
    _s, t, want = _pending_result_on_a_held_stream()
    cs = cupy.cuda.Stream(non_blocking=True)
    pending = not t.is_ready()
    with cs:
        c = cupy.asarray(t)
        got = cupy.asnumpy(c)
    assert c.data.ptr == t.data_ptr(), "shared, not copied"
    np.testing.assert_array_equal(got, want)
    _inconclusive_unless(pending)


@needs_torch
def test_xfer4_astensor_stream_freed_while_pending():
    """The Stream object freed while its conversion is pending: the result keeps the stream
    until its copy ends, so the handle its __cuda_array_interface__ names stays valid."""
    s, t, want = _pending_result_on_a_held_stream()
    handle = s.handle
    del s
    pending = not t.is_ready()
    if pending:
        assert t.__cuda_array_interface__["stream"] == handle
        other = torch.cuda.Stream()
        other.wait_stream(torch.cuda.ExternalStream(handle))  # a live stream: no CUDA error
        other.synchronize()
    np.testing.assert_array_equal(host(t), want)
    _inconclusive_unless(pending)
