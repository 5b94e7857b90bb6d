"""Errors raised by provisioning; each message says what was wrong and what to do."""

from __future__ import annotations


class ProvisioningError(ValueError):
    """Bad input or a refused action; nothing was changed."""


class NotFound(ProvisioningError):
    pass


class InvalidTransition(ProvisioningError):
    pass


class RiskBelowThreshold(ProvisioningError):
    """An extract is below the policy's minimum k and no admin override covers it."""


class KeyDestroyed(ProvisioningError):
    """The project's pseudonymisation key was destroyed (project closed)."""


class SyncError(ProvisioningError):
    """Keycloak sync refused before changing anything."""
