"""Run in-process code (provisioning seeding, a service built in the test process) under the same
``SANDKASSE_*`` environment that a service started for the test gets, so both write their audit
chains and JSON lines to one place under one master key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def settings_env(env: dict[str, str]) -> Iterator[None]:
    """Only the ``SANDKASSE_*`` variables of ``env`` apply inside the block; the rest are restored after."""
    from sandkasse.settings import get_settings

    saved = {k: v for k, v in os.environ.items() if k.startswith("SANDKASSE_")}
    for k in saved:
        del os.environ[k]
    os.environ.update({k: v for k, v in env.items() if k.startswith("SANDKASSE_")})
    get_settings.cache_clear()
    try:
        yield
    finally:
        for k in [k for k in os.environ if k.startswith("SANDKASSE_")]:
            del os.environ[k]
        os.environ.update(saved)
        get_settings.cache_clear()
