"""The optimized implementation's device paths on the simulated accelerator (issues 5/6):
astensor.as_tensor (impl, through the transfer pipeline) gives what astensor.reference.as_tensor
gives (XFER-2, XFER-3): dtype, shape, strides (TEN-3), device and the bits; explain() shows
the transfer part of the plan (COPY-2)."""

import numpy as np
import pytest

import astensor

HAVE_SIM = astensor.device_count("sim") > 0
pytestmark = pytest.mark.skipif(not HAVE_SIM, reason="the sim backend reports no devices in this build")


def host_bits(t):
    """t's values on the host as raw bytes in row-major order (NaN payloads compared too)."""
    if str(t.device) != "cpu":
        t = astensor.reference.as_tensor(t, device="cpu")
    a = np.ascontiguousarray(t.numpy())
    return a.view(np.uint8).tobytes()


def assert_same(data, **kw):
    r = astensor.reference.as_tensor(data, **kw)
    i = astensor.as_tensor(data, **kw)
    assert i.dtype.name == r.dtype.name
    assert str(i.device) == str(r.device)
    assert tuple(i.shape) == tuple(r.shape)
    assert tuple(i.stride()) == tuple(r.stride())
    assert host_bits(i) == host_bits(r)
    return i


rng = np.random.default_rng(7)
BASE = rng.standard_normal((40, 60)) * 300


@pytest.mark.parametrize("dtype", ["float32", "float16", "int16", "uint8", "complex128", "bool"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "stepped", "negative", "big-endian"])
def test_xfer3_host_to_sim_matches_reference(dtype, layout):
    a = BASE
    if layout == "transposed":
        a = a.T
    elif layout == "stepped":
        a = a[::2, 1::3]
    elif layout == "negative":
        a = a[::-1, ::-2]
    elif layout == "big-endian":
        a = a.astype(">f8")
    assert_same(a, dtype=getattr(astensor, "bool_" if dtype == "bool" else dtype), device="sim:0")


@pytest.mark.parametrize("src", ["uint8", "float64", "float32", "int64"])
@pytest.mark.parametrize("dst", ["float64", "float16", "int8", "bool"])
@pytest.mark.parametrize("to", ["cpu", "sim:0", "sim:1"])
def test_xfer3_sim_sources_match_reference(src, dst, to):
    a = (BASE[:, ::2] if src != "uint8" else np.abs(BASE)).astype(src)
    s = astensor.reference.as_tensor(a, device="sim:0")
    assert_same(s, dtype=getattr(astensor, "bool_" if dst == "bool" else dst), device=to)


def test_copy2_explain_shows_the_transfer():
    u8 = np.arange(1000, dtype=np.uint8)
    text = astensor.explain(u8, dtype=astensor.float32, device="sim:0")
    assert "h2d" in text and "cast on the device" in text and "(uint8) over h2d" in text
    text = astensor.explain(np.arange(1000.0), dtype=astensor.float32, device="sim:0")
    assert "cast on the host" in text
    s = astensor.as_tensor(np.arange(1000.0), device="sim:0")
    assert "d2h" in astensor.explain(s, device="cpu")
    assert "peer" in astensor.explain(s, device="sim:1")
    # COPY-2: a call as_tensor would refuse is described, not raised.
    assert "raises RuntimeError" in astensor.explain(u8, device="sim:7")
    assert "raises ValueError" in astensor.explain(s, device="sim:1", copy=False)


def test_grad1_on_sim_matches_reference():
    t = astensor.as_tensor(np.arange(6.0), device="sim:0")
    t.requires_grad = True
    for fn in (astensor.as_tensor, astensor.reference.as_tensor):
        u = fn(t, device="sim:1", dtype=astensor.float32)
        assert u.requires_grad and u.grad_fn is not None
    with pytest.raises(ValueError) as ei:
        astensor.as_tensor(t, device="sim:1", copy=False)
    with pytest.raises(ValueError) as er:
        astensor.reference.as_tensor(t, device="sim:1", copy=False)
    assert str(ei.value) == str(er.value)
