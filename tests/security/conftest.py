"""Fixtures of the security suite. The sandbox attacks reuse the hub's end-to-end fixtures (a real
JupyterHub spawning real containers, ``tests/e2e/hub/conftest.py``) instead of a parallel set: they are
loaded here under their own module name, so a run of this folder alone gets them too."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HUB_TESTS = Path(__file__).resolve().parents[1] / "e2e" / "hub"
if str(HUB_TESTS) not in sys.path:
    sys.path.insert(0, str(HUB_TESTS))  # the hub fixtures import their helpers as ``hubtest``

_spec = importlib.util.spec_from_file_location("sandkasse_hub_e2e_fixtures", HUB_TESTS / "conftest.py")
_hub = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_hub)

# Every fixture the hub's conftest defines (it grows: re-export them all, by what they are).
for _name, _obj in vars(_hub).items():
    if type(_obj).__name__ == "FixtureFunctionDefinition" or hasattr(_obj, "_pytestfixturefunction"):
        globals()[_name] = _obj
