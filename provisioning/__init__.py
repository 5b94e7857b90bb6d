"""Provisioning: datasets, projects, members, entitlements, extracts, risk reports, Keycloak sync (see README.md)."""
