"""Sandkasse: shared plumbing (settings, database, audit chain, policies, local stack, CLI)."""

__version__ = "0.1.0"
