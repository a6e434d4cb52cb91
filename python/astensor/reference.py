"""The reference implementation of as_tensor (astensor::reference::as_tensor): SPEC.md applied
literally. ``astensor.as_tensor`` must give identical results (XFER-3)."""

from ._astensor import reference_as_tensor as as_tensor  # noqa: F401

__all__ = ["as_tensor"]
