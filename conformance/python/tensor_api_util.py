"""What the Tensor API tests share (test_tensor_api.py, test_tensor_presentation.py): the
``lib`` fixture that runs a test against astensor and, where installed, torch; ``values``."""

from __future__ import annotations

import numpy as np
import pytest

import astensor

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

HAVE_SIM = astensor.device_count("sim") > 0
HAVE_CUDA = astensor.device_count("cuda") > 0


class Lib:
    """How to make a tensor from a NumPy array, for astensor and for torch."""

    def __init__(self, name):
        self.name = name
        self.ours = name == "astensor"

    def make(self, a, requires_grad=False):
        if self.ours:
            t = astensor.as_tensor(np.array(a, copy=True))
            if requires_grad:
                t.requires_grad = True
            return t
        t = torch.tensor(np.array(a, copy=True))
        if requires_grad:
            t.requires_grad_(True)
        return t

    def dtype(self, name):
        return getattr(astensor if self.ours else torch, name)

    def no_grad(self):
        return astensor.no_grad() if self.ours else torch.no_grad()


@pytest.fixture(params=["astensor", "torch"])
def lib(request):
    if request.param == "torch" and torch is None:
        pytest.skip("torch is not installed")
    return Lib(request.param)


def values(t) -> np.ndarray:
    """t's values on the host as a NumPy array (either library)."""
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t.cpu())
