"""pytest configuration of the Python conformance harness.

Run from the repository root after building (ci/stages/20-python does this):
    PYTHONPATH=build/default/python HYPOTHESIS_PROFILE=ci python -m pytest -q conformance/python
Hypothesis profiles: "ci" (derandomized, 100 examples, no deadline), "asan" (the same with 25
examples, for ci/stages/25-python-asan) and "dev" (random, 30 examples, prints reproduction
blobs). Every failing example prints the call to paste.
"""

import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # adapters, strategies, helpers

try:
    import astensor  # noqa: F401
except ImportError as e:  # a clear message instead of 50 collection errors
    raise pytest.UsageError(
        f"cannot import astensor ({e}); build the module and set "
        "PYTHONPATH=<build dir>/python") from e

settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture])
# ci/stages/25-python-asan: the same properties, fewer examples (the module is a Debug
# ASan + UBSan build there, several times slower).
settings.register_profile(
    "asan", max_examples=25, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture])
settings.register_profile(
    "dev", max_examples=30, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

from adapters import all_adapters  # noqa: E402  (adapters are stateless: function-scoped is fine)


@pytest.fixture(params=all_adapters())
def impl(request):
    """The implementation under test: reference, impl or torch."""
    return request.param


@pytest.fixture(autouse=True)
def _restore_defaults():
    """Tests that change process-wide defaults (DT-4, DEV-1) must not leak into others."""
    import astensor
    dt, dev = astensor.get_default_dtype(), None
    yield
    astensor.set_default_dtype(dt)
    astensor.set_default_device(dev)
    try:
        import torch
        torch.set_default_dtype(torch.float32)
    except ImportError:
        pass
