"""Devices, on the CPU and the simulated accelerator (DEV-1..4)."""

import numpy as np
import pytest

import astensor
from helpers import assert_values_equal, data_start

HAVE_SIM = astensor.device_count("sim") > 0
HAVE_CUDA = astensor.device_count("cuda") > 0


def test_dev1_defaults_to_cpu(impl):
    """DEV-1: arrays and Python data go to the CPU; a tensor keeps its device."""
    assert impl.device_str(impl.as_tensor([1, 2])) == "cpu"
    assert impl.device_str(impl.as_tensor(np.ones(2))) == "cpu"


def test_dev1_default_device_applies_to_all_inputs():
    """DEV-1: set_default_device applies to every input, tensors included."""
    a = np.arange(3.0)
    astensor.set_default_device("cpu")
    try:
        t = astensor.as_tensor(a)
        assert t.data_ptr() == data_start(a)
        assert astensor.get_default_device() == "cpu"
        if HAVE_SIM:
            astensor.set_default_device("sim:0")
            s = astensor.as_tensor(t)
            assert str(s.device) == "sim:0" and s is not t
            assert str(astensor.as_tensor([1.0]).device) == "sim:0"
    finally:
        astensor.set_default_device(None)
    assert str(astensor.as_tensor([1.0]).device) == "cpu"


def test_dev2_cpu0_equals_cpu(impl):
    """DEV-2 [ext]: 'cpu:0' is the CPU: shared, same object for tensors."""
    impl.diverges("DEV-2")
    a = np.arange(3.0)
    t = impl.as_tensor(a, device="cpu:0")
    assert impl.data_ptr(t) == data_start(a)
    assert impl.as_tensor(t, device="cpu:0") is t


@pytest.mark.skipif(HAVE_CUDA, reason="this machine has CUDA; DEV-3's missing-device case needs none")
def test_dev3_missing_cuda_runtime_error():
    """DEV-3: asking for a device that is not present raises RuntimeError saying what was found."""
    for impl in (astensor.as_tensor, astensor.reference.as_tensor):
        for d in ("cuda", "cuda:0", 0):
            with pytest.raises(RuntimeError, match="cuda"):
                impl(np.ones(2), device=d)


@pytest.mark.skipif(not HAVE_SIM, reason="the sim backend reports no devices in this build")
def test_dev3_sim_index_out_of_range():
    before = astensor._astensor._storage_stats()
    with pytest.raises(RuntimeError, match="sim"):
        astensor.as_tensor([1.0, 2.0], device="sim:7")
    assert astensor._astensor._storage_stats() == before  # nothing allocated


@pytest.mark.skipif(not HAVE_SIM, reason="the sim backend reports no devices in this build")
@pytest.mark.parametrize("fn", [astensor.as_tensor, astensor.reference.as_tensor], ids=["impl", "reference"])
def test_dev4_sim_round_trip(fn):
    """DEV-4: copies to sim:N and back give the same values; a sim tensor keeps its device."""
    a = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    s = fn(a, device="sim:1")
    assert str(s.device) == "sim:1"
    assert fn(s) is s
    back = fn(s, device="cpu")
    assert_values_equal(back.numpy(), a)
    assert s.tolist() == a.tolist()
    s2 = fn(s, device="sim:0", dtype=astensor.float64)
    assert str(s2.device) == "sim:0" and s2.tolist() == a.tolist()
    with pytest.raises(TypeError):
        s.numpy()
    with pytest.raises(BufferError):
        memoryview(s)
