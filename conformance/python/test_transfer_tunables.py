"""The transfer pipeline's tunables (issue 12): chunk size, ring slots, staging threads, cast
placement, the small-copy threshold and the chunk ramp are runtime settings, read from the environment once per process, named in
explain() (COPY-2), and a bad value is a ValueError naming the variable and its value. The
results do not depend on them (XFER-3: bit-equal to the reference whatever the setting).
Each case runs in a fresh interpreter, since the environment is read on first use."""

import os
import re
import subprocess
import sys

import pytest

import astensor

pytestmark = pytest.mark.skipif(astensor.device_count("sim") == 0, reason="needs the sim backend")

SCRIPT = r"""
import numpy as np, astensor
a = np.arange(300_000, dtype=np.float64).reshape(600, 500)[:, ::2] * 1.5
for dt, dev in ((astensor.float32, "sim:0"), (astensor.float64, "sim:1")):
    i = astensor.as_tensor(a, dtype=dt, device=dev)
    r = astensor.reference.as_tensor(a, dtype=dt, device=dev)
    hi = astensor.reference.as_tensor(i, device="cpu").numpy()
    hr = astensor.reference.as_tensor(r, device="cpu").numpy()
    assert hi.tobytes() == hr.tobytes() and hi.strides == hr.strides, (dt, dev)
    back = astensor.as_tensor(i, dtype=astensor.float64, device="cpu").numpy()
    assert np.array_equal(back, hr.astype(np.float64)), "d2h"
print(astensor.explain(a, dtype=astensor.float32, device="sim:0"))
"""


def run(env):
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", SCRIPT], env=full, capture_output=True, text=True, timeout=120)


def transfer_line(out):
    return next(line for line in out.splitlines() if line.strip().startswith("transfer:"))


def test_defaults_are_named_in_explain():
    r = run({})
    assert r.returncode == 0, r.stderr
    line = transfer_line(r.stdout)
    assert "tunables: chunk 4 MiB, slots 3, host threads auto, cast site auto, small copy 1 MiB, ramp 512 KiB" in line
    assert "(env)" not in line
    assert "small copy: one pinned slot" in line  # 600 KB over the link: the small-copy path


def test_the_small_copy_threshold_is_a_tunable():
    r = run({"ASTENSOR_SMALL_COPY": "0"})
    assert r.returncode == 0, r.stderr
    line = transfer_line(r.stdout)
    assert "small copy off (env)" in line and "small copy: one pinned slot" not in line, line


def test_xfer3_a_pinned_bound_smaller_than_the_ring_changes_no_result():
    """ASTENSOR_PINNED_POOL_MB=1 is below one 4 MiB slot: every blocking conversion still pins
    what it needs (nothing in flight to wait for) and the results stay bit-equal."""
    r = run({"ASTENSOR_PINNED_POOL_MB": "1", "ASTENSOR_SMALL_COPY": "0"})
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("chunk,slots,threads,site", [("64KiB", "1", "1", "device"), ("1048576", "2", "3", "host"),
                                                      ("16MiB", "4", "2", "auto")])
def test_xfer3_results_do_not_depend_on_the_tunables(chunk, slots, threads, site):
    r = run({"ASTENSOR_STAGING_CHUNK": chunk, "ASTENSOR_STAGING_SLOTS": slots,
             "ASTENSOR_STAGING_THREADS": threads, "ASTENSOR_CAST_SITE": site})
    assert r.returncode == 0, r.stderr
    line = transfer_line(r.stdout)
    want_chunk = {"64KiB": "64 KiB", "1048576": "1 MiB", "16MiB": "16 MiB"}[chunk]
    assert f"chunk {want_chunk} (env), slots {slots} (env), host threads {threads} (env), cast site {site} (env)" in line
    m = re.search(r"\((\d+) slots? x ([^,]+), (\d+) chunks?, up to (\d+) host threads?\)", line)
    assert m, line
    assert int(m.group(1)) == min(int(slots), int(m.group(3))) and m.group(2) == want_chunk
    assert int(m.group(4)) <= int(threads)
    if site == "device":
        assert "cast on the device" in line and "(placement forced)" in line
    if site == "host":
        assert "cast on the host" in line


@pytest.mark.parametrize("ramp,want", [("64KiB", "64 KiB"), ("0", "off"), ("8MiB", "8 MiB")])
def test_the_chunk_ramp_is_a_tunable(ramp, want):
    """Note [Ramped chunks]: with 256 KiB chunks (the 600 KB transfer then takes the ring), a
    64 KiB ramp adds chunks at both ends; 0, or a ramp not below the chunk, is plain chunks. The
    results are the reference's either way (the script checks)."""
    r = run({"ASTENSOR_STAGING_RAMP": ramp, "ASTENSOR_STAGING_CHUNK": "256KiB"})
    assert r.returncode == 0, r.stderr
    line = transfer_line(r.stdout)
    assert f"ramp {want} (env)" in line, line
    chunks = int(re.search(r", (\d+) chunks?, up to", line).group(1))
    plain = -(-600 * 250 * 4 // (256 * 1024))  # 600 KB of float32 in 256 KiB chunks
    if ramp == "64KiB":
        assert "chunks ramp from 64 KiB" in line and chunks > plain, line
    else:
        assert "chunks ramp" not in line and chunks == plain, line


@pytest.mark.parametrize("var,value", [("ASTENSOR_STAGING_CHUNK", "lots"), ("ASTENSOR_STAGING_CHUNK", "16"),
                                       ("ASTENSOR_STAGING_SLOTS", "0"), ("ASTENSOR_STAGING_SLOTS", "3x"),
                                       ("ASTENSOR_STAGING_THREADS", "-1"), ("ASTENSOR_CAST_SITE", "gpu"),
                                       ("ASTENSOR_SMALL_COPY", "2GiB"), ("ASTENSOR_SMALL_COPY", "-1"),
                                       ("ASTENSOR_STAGING_RAMP", "lots"), ("ASTENSOR_STAGING_RAMP", "63"),
                                       ("ASTENSOR_PINNED_POOL_MB", "lots"), ("ASTENSOR_PINNED_POOL_MB", "0"),
                                       ("ASTENSOR_PINNED_POOL_MB", "2.5")])
def test_a_bad_setting_is_a_value_error_naming_it(var, value):
    r = run({var: value})
    assert r.returncode != 0
    assert "ValueError" in r.stderr and f"{var}='{value}' is invalid" in r.stderr, r.stderr
