"""configurable-http-proxy, the proxy JupyterHub puts in front of the hub and the notebooks.

Installed with npm into ``var/cache/chp`` on first use (npm's registry is one of the package
registries this machine may use); a CHP already on PATH wins."""

from __future__ import annotations

import shutil
from pathlib import Path

from sandkasse.stack.process import StackError, file_lock, run, var_path

CHP_VERSION = "5"


def ensure_configurable_http_proxy() -> Path:
    found = shutil.which("configurable-http-proxy")
    if found:
        return Path(found)
    prefix = var_path("cache", "chp")
    binary = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
    with file_lock("chp", timeout=600):
        if binary.exists():
            return binary
        if shutil.which("npm") is None:
            raise StackError("npm is missing: apt-get install npm (needed for configurable-http-proxy)")
        run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"configurable-http-proxy@{CHP_VERSION}"],
            what="npm install configurable-http-proxy",
            timeout=600,
        )
    if not binary.exists():
        raise StackError(f"npm install finished but {binary} is missing")
    return binary
