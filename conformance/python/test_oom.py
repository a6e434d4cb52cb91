"""Out of device memory (issue 11 section 2): a conversion whose result cannot fit on the
device is a typed RuntimeError naming the size and the device; the process lives and the next
conversion works. The source is a stride-0 view (np.broadcast_to), so the host holds one
element while the device would need more than it has.

On sim the device's memory is sim::device_memory() (ASTENSOR_SIM_DEVICE_MEMORY), refused
before anything is mapped. Both implementations allocate the device result before any host
work (the reference's copy_plain too), so a result too large for the device fails at once,
whatever the host could hold. The CUDA twins skip without a CUDA device; on one they ask for
more than the card has (torch.cuda.mem_get_info when torch is there, else 1 TiB)."""

import math

import numpy as np
import pytest

import astensor

HAVE_SIM = astensor.device_count("sim") > 0
HAVE_CUDA = astensor.device_count("cuda") > 0

IMPLS = [pytest.param(astensor.as_tensor, id="impl"), pytest.param(astensor.reference.as_tensor, id="reference")]


def broadcast_over(nbytes_at_least):
    """A float32 stride-0 view of 2**k elements, 2**k * 4 >= nbytes_at_least: a power of two
    of bytes, which the device caching allocator's size bins keep as it is."""
    k = max(0, math.ceil(math.log2(max(nbytes_at_least, 4) / 4)))
    return np.broadcast_to(np.float32(1.5), (2 ** k,))


def check_oom_then_next_works(as_tensor, device, too_big):
    nbytes = too_big.size * too_big.itemsize
    with pytest.raises(RuntimeError) as e:
        as_tensor(too_big, device=device)
    msg = str(e.value)
    assert str(nbytes) in msg, msg
    assert device in msg, msg
    # The process lives and the device still works.
    small = np.arange(1000, dtype=np.float32)
    r = as_tensor(small, device=device)
    assert str(r.device) == device
    back = astensor.reference.as_tensor(r, device="cpu")
    assert np.array_equal(back.numpy(), small)


@pytest.mark.skipif(not HAVE_SIM, reason="the sim backend reports no devices in this build")
def test_sim_oom_is_a_typed_error_and_the_next_conversion_works():
    from astensor._astensor import _sim_testing as st
    check_oom_then_next_works(astensor.as_tensor, "sim:0", broadcast_over(4 * st.device_memory()))


@pytest.mark.skipif(not HAVE_SIM, reason="the sim backend reports no devices in this build")
@pytest.mark.parametrize("as_tensor", IMPLS)
def test_sim_oom_names_the_capacity_and_what_is_in_use(as_tensor):
    """With a 64 MiB sim device: the message names what was asked, the capacity and the use."""
    from astensor._astensor import _sim_testing as st
    old = st.device_memory()
    st.set_device_memory(64 << 20)
    try:
        check_oom_then_next_works(as_tensor, "sim:1", broadcast_over(128 << 20))
        msg = _message(as_tensor, "sim:1", broadcast_over(128 << 20))
        assert "134217728 bytes on sim:1" in msg, msg
        assert "capacity 67108864" in msg, msg
        assert "in use" in msg, msg
        r = as_tensor(np.broadcast_to(np.float32(2.0), (1 << 20,)), device="sim:1")  # 4 MiB fits
        assert float(astensor.reference.as_tensor(r, device="cpu").numpy()[-1]) == 2.0
    finally:
        st.set_device_memory(old)


def _message(as_tensor, device, too_big):
    with pytest.raises(RuntimeError) as e:
        as_tensor(too_big, device=device)
    return str(e.value)


def _cuda_total_bytes():
    try:
        import torch
        if torch.cuda.is_available():
            return torch.cuda.mem_get_info(0)[1]
    except Exception:  # torch absent or unusable: the fixed size below
        pass
    return None


@pytest.mark.skipif(not HAVE_CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("as_tensor", IMPLS)
def test_cuda_oom_is_a_typed_error_and_the_next_conversion_works(as_tensor):
    total = _cuda_total_bytes()
    check_oom_then_next_works(as_tensor, "cuda:0", broadcast_over(2 * total if total else 1 << 40))


@pytest.mark.skipif(not HAVE_SIM, reason="the sim backend reports no devices in this build")
@pytest.mark.parametrize("as_tensor", IMPLS)
def test_sim_oom_is_refused_before_any_host_work(as_tensor):
    """A 1 TiB result for a 64 MiB device: the device's refusal, not the host's. (Were the host
    block allocated first, its failure would be a different error, or the host would fill 1 TiB.)"""
    from astensor._astensor import _sim_testing as st
    old = st.device_memory()
    st.set_device_memory(64 << 20)
    try:
        msg = _message(as_tensor, "sim:0", broadcast_over(1 << 40))
        assert "1099511627776 bytes on sim:0" in msg and "capacity 67108864" in msg, msg
    finally:
        st.set_device_memory(old)
