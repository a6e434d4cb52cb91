"""The test-only hooks of astensor._sim_testing (python/src/sim_testing.cpp) that the suites and
the overlap bench (bench/overlap.py) lean on: wait_tensor (a stream waits for a non-blocking
result's pending copy, as a consumer of the result does) and link_model_scope / link_model
(sim's link model for a block, the previous one restored). A hook that silently did nothing
would make every test built on it pass by luck, so each is checked against an observable
effect: the order of two writes, a modelled copy's floor."""

import time

import numpy as np
import pytest

import astensor

HAVE_SIM = astensor.device_count("sim") > 0
pytestmark = pytest.mark.skipif(not HAVE_SIM, reason="needs the sim devices of a build with sim")

if HAVE_SIM:
    from astensor._astensor import _sim_testing as st

PAUSE_US = 150_000


def _read(t):
    return astensor.as_tensor(t, device="cpu").numpy()


# --- record / event_wait -------------------------------------------------------------------------

def test_event_wait_blocks_until_the_work_before_the_event_has_run():
    s = st.stream(0)
    try:
        st.sleep(0, s, PAUSE_US)
        e = st.record(0, s)
        st.sleep(0, s, 10 * PAUSE_US)  # after the event: not waited for
        t0 = time.perf_counter()
        st.event_wait(e)
        waited = time.perf_counter() - t0
        assert 0.9 * PAUSE_US * 1e-6 <= waited < 5 * PAUSE_US * 1e-6, waited
    finally:
        st.synchronize(0, s)
        st.destroy_stream(0, s)


def test_event_wait_refuses_zero():
    with pytest.raises(ValueError, match="not an event"):
        st.event_wait(0)


# --- wait_tensor ---------------------------------------------------------------------------------

def test_wait_tensor_orders_a_stream_after_the_pending_copy():
    copy, consumer = st.stream(0), st.stream(0)
    try:
        src = np.arange(4096, dtype=np.float32)
        st.sleep(0, copy, PAUSE_US)  # the copy stays queued behind a 150 ms pause
        t = astensor.as_tensor(src, device="sim:0", non_blocking=True, stream=copy)
        assert not t.is_ready()
        st.wait_tensor(0, consumer, t)
        # A "kernel" on the consumer stream that overwrites the result: it must run after the
        # copy, so its 7s are what remains. Without the wait it runs at once (its stream is
        # idle) and the copy lands over it.
        st.fill(0, consumer, t, 7.0)
        st.synchronize(0, consumer)
        assert t.is_ready(), "the consumer ran after the copy, so the copy has completed"
        np.testing.assert_array_equal(_read(t), np.full(4096, 7.0, dtype=np.float32))
    finally:
        st.synchronize(0, copy)
        st.destroy_stream(0, copy)
        st.destroy_stream(0, consumer)


def test_wait_tensor_does_not_block_the_host():
    copy = st.stream(0)
    try:
        st.sleep(0, copy, PAUSE_US)
        t = astensor.as_tensor(np.ones(1024, np.float32), device="sim:0", non_blocking=True, stream=copy)
        st.wait_tensor(0, st.current_stream(0), t)
        assert not t.is_ready(), "wait_tensor only queued a wait; the copy is still behind the pause"
    finally:
        st.synchronize(0, copy)
        st.destroy_stream(0, copy)


def test_wait_tensor_on_a_ready_tensor_is_a_no_op():
    t = astensor.as_tensor(np.arange(8, dtype=np.int32), device="sim:0")  # blocking: ready
    s = st.stream(0)
    try:
        st.wait_tensor(0, s, t)
        st.fill(0, s, t, 3)
        st.synchronize(0, s)
        np.testing.assert_array_equal(_read(t), np.full(8, 3, dtype=np.int32))
    finally:
        st.destroy_stream(0, s)


def test_fill_refuses_a_tensor_it_cannot_write_whole():
    # fill writes numel items from the data pointer: only a dense sim tensor of that device.
    with pytest.raises(ValueError, match=r"\[_sim_testing\] fill: the tensor is on cpu, not on sim:0"):
        st.fill(0, st.current_stream(0), astensor.as_tensor(np.ones(4, np.float32)), 1)
    transposed = astensor.as_tensor(np.ones((4, 3), np.float32).T, device="sim:0")  # keeps the source's order
    assert transposed.stride() == (1, 3)
    with pytest.raises(ValueError, match=r"\[_sim_testing\] fill: the tensor must be contiguous"):
        st.fill(0, st.current_stream(0), transposed, 1)
    np.testing.assert_array_equal(_read(transposed), np.ones((3, 4), np.float32))  # left as it was


def test_wait_tensor_refuses_a_tensor_of_another_device():
    cpu = astensor.as_tensor(np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"\[_sim_testing\] wait_tensor: the tensor is on cpu, not on sim:0"):
        st.wait_tensor(0, st.current_stream(0), cpu)
    if astensor.device_count("sim") > 1:
        other = astensor.as_tensor(np.ones(4, np.float32), device="sim:1")
        with pytest.raises(ValueError, match="is on sim:1, not on sim:0"):
            st.wait_tensor(0, st.current_stream(0), other)
    with pytest.raises(TypeError):
        st.wait_tensor(0, st.current_stream(0), np.ones(4))


# --- link_model_scope / link_model ---------------------------------------------------------------

SLOW = "pinned=100MB/s,pageable=100MB/s,latency=5us,engines=2"


def test_link_model_scope_sets_the_model_and_restores_the_previous_one():
    before = st.link_model()
    with st.link_model_scope(SLOW) as model:
        now = st.link_model()
        assert now == model
        assert now["enabled"] is True and now["engines"] == 2
        assert now["bandwidth"]["h2d_pinned"] == 100e6 and now["bandwidth"]["d2h_pageable"] == 100e6
        assert all(us == 5.0 for us in now["latency_us"].values())
        assert now["bandwidth"]["d2d"] == before["bandwidth"]["d2d"], "unnamed kinds keep the defaults"
    assert st.link_model() == before


def test_the_scoped_model_times_the_copies():
    # 1 MiB over a 100 MB/s link: a modelled floor of 10.5 ms per copy (the model waits out the
    # rest of a copy that memcpy finished sooner), whichever kind (pinned or pageable) it takes.
    a = np.ones(1 << 18, dtype=np.float32)
    astensor.as_tensor(a, device="sim:0")  # warm: pools and streams exist
    with st.link_model_scope(SLOW):
        t0 = time.perf_counter()
        t = astensor.as_tensor(a, device="sim:0")
        took = time.perf_counter() - t0
    assert took >= 10e-3, f"a 1 MiB copy at 100 MB/s took {took * 1e3:.2f} ms: the model was not in force"
    np.testing.assert_array_equal(_read(t), a)


def test_link_model_scope_restores_after_an_exception_and_refuses_reentry():
    before = st.link_model()
    scope = st.link_model_scope(SLOW)
    with pytest.raises(KeyError):
        with scope:
            raise KeyError("inside")
    assert st.link_model() == before
    with scope:  # reusable once exited
        with pytest.raises(ValueError, match="already entered"):
            scope.__enter__()
    assert st.link_model() == before


@pytest.mark.parametrize("text", ["pinned=4", "speed=4GB/s", "engines=3", ""])
def test_link_model_scope_refuses_bad_text_at_construction(text):
    before = st.link_model()
    with pytest.raises(ValueError, match=r"link_model_scope"):
        st.link_model_scope(text)
    assert st.link_model() == before
