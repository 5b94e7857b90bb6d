"""Wheelhouses built on the host for the images' Python (CPython 3.11 on x86_64 glibc), because
containers never fetch packages from the network. Cached under ``var/cache/wheelhouse/<name>-<hash>/``
by the requirement list."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from sandkasse.settings import REPO_ROOT
from sandkasse.stack.process import StackError, file_lock, run, var_path

# The base image is Debian bookworm: CPython 3.11, glibc 2.36.
TARGET = [
    "--only-binary=:all:",
    "--platform", "manylinux2014_x86_64",
    "--platform", "manylinux_2_17_x86_64",
    "--platform", "manylinux_2_28_x86_64",
    "--python-version", "3.11",
    "--implementation", "cp",
    "--abi", "cp311",
    "--abi", "abi3",
    "--abi", "none",
]  # fmt: skip
DOWNLOAD_TIMEOUT = 1200.0
COMPLETE = ".complete"


def wheelhouse_dir(requirements: list[str], name: str) -> Path:
    key = hashlib.sha256("\n".join([*TARGET, "--", *sorted(requirements)]).encode()).hexdigest()[:12]
    return var_path("cache", "wheelhouse") / f"{name}-{key}"


def ensure_wheelhouse(requirements: list[str], name: str) -> Path:
    """A folder of wheels satisfying ``requirements`` (with their dependencies) for the images."""
    if not requirements:
        raise ValueError("ensure_wheelhouse needs at least one requirement")
    target = wheelhouse_dir(requirements, name)
    with file_lock(f"wheelhouse-{target.name}", timeout=DOWNLOAD_TIMEOUT + 60):
        if (target / COMPLETE).exists():
            return target
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(partial), *TARGET, *requirements],
            what=f"pip download of the {name} wheelhouse",
            timeout=DOWNLOAD_TIMEOUT,
        )
        (partial / COMPLETE).write_text("\n".join(requirements) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return target


def build_project_wheel(dest: Path) -> Path:
    """Build the sandkasse distribution itself (no dependencies) into ``dest``; never cached, since
    the code changes between runs. Older sandkasse wheels in ``dest`` are removed so there is one."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("sandkasse-*.whl"):
        old.unlink()
    with file_lock("project-wheel", timeout=600):
        run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(REPO_ROOT)],
            what="building the sandkasse wheel",
            timeout=600,
            # Fixed zip timestamps: the same code gives the same wheel, so images keyed by content
            # hash are not rebuilt when nothing changed.
            env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"},
        )
    wheels = sorted(dest.glob("sandkasse-*.whl"))
    if len(wheels) != 1:
        raise StackError(f"expected one sandkasse wheel in {dest}, found {[w.name for w in wheels]}")
    return wheels[0]
