"""JupyterLab's "Request release" front end (``images/notebook/labextension``), built on the host for
the notebook image: containers never reach the network, so the npm packages are installed here (npm
registry, versions fixed by ``package-lock.json``) and the prebuilt federated extension is copied into
the image. Nothing is fetched when the notebook runs.

The build is JupyterLab 4.6's own: ``jupyter labextension build`` hands over to ``jupyter-builder
build`` (the ``jupyter_builder`` package from the notebook wheelhouse, in a small venv here), which
runs ``@jupyterlab/builder`` against ``@jupyterlab/core-meta`` of the image's JupyterLab version, so
the extension shares the image's JupyterLab packages. ``@jupyterlab/builder`` (webpack) rather than
the newer ``@jupyter/builder`` (rspack): it runs on Debian's Node.js 18.

Cached under ``var/cache/labextension/``: ``npm-<hash of package.json and lock>`` (node_modules),
``builder-<wheelhouse>`` (the venv) and ``built-<hash of everything>`` (the result), so an unchanged
extension is never rebuilt and a changed source does not re-download its packages. The build runs
in a copy of the sources, never in the repository (the notebook image's build context holds the
folder)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from sandkasse.settings import REPO_ROOT
from sandkasse.stack.images import _files
from sandkasse.stack.process import StackError, file_lock, run, var_path

SOURCE = REPO_ROOT / "images" / "notebook" / "labextension"
SOURCES = ("package.json", "package-lock.json", "tsconfig.json", "src", "style")
DEPENDENCY_FILES = ("package.json", "package-lock.json")
COMPLETE = ".complete"
NPM_TIMEOUT = 900.0
BUILD_TIMEOUT = 600.0


def _hash(root: Path, names: tuple[str, ...], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for name in names:
        for rel, path in _files(root / name):
            h.update(f"\0{name}/{rel}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _cache() -> Path:
    return var_path("cache", "labextension")


def _node_env() -> dict[str, str]:
    # No telemetry, no update checks, no audit calls: only the registry's packages are fetched.
    return {**os.environ, "npm_config_fund": "false", "npm_config_audit": "false",
            "npm_config_update_notifier": "false", "NODE_ENV": "production"}


def _publish(partial: Path, target: Path) -> None:
    (partial / COMPLETE).write_text("ok\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def ensure_node_modules(source: Path = SOURCE) -> Path:
    """``node_modules`` for ``package-lock.json`` (``npm ci``), kept per hash of package.json and lock."""
    target = _cache() / f"npm-{_hash(source, DEPENDENCY_FILES)}"
    if (target / COMPLETE).exists():
        return target / "node_modules"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in DEPENDENCY_FILES:
        shutil.copy2(source / name, partial / name)
    # --ignore-scripts: no package runs code on this host at install time (the builder needs none).
    run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--include=dev", "--loglevel=error"],
        what="npm ci of the JupyterLab extension", timeout=NPM_TIMEOUT, cwd=partial, env=_node_env())
    _publish(partial, target)
    return target / "node_modules"


def ensure_builder(wheelhouse: Path) -> Path:
    """A venv with ``jupyter_builder`` from the notebook wheelhouse (the image's own version); returns its bin."""
    target = _cache() / f"builder-{wheelhouse.name}"
    if (target / COMPLETE).exists():
        return target / "venv" / "bin"
    # Made in place (a venv's scripts name their interpreter by absolute path, so it cannot be
    # renamed into place); the marker is written last, and the caller holds the build lock.
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    run([sys.executable, "-m", "venv", str(target / "venv")], what="creating the extension builder's venv", timeout=300)
    run([str(target / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index",
         "--find-links", str(wheelhouse), "jupyter_builder"],
        what="installing jupyter_builder from the notebook wheelhouse", timeout=300)
    (target / COMPLETE).write_text("ok\n")
    return target / "venv" / "bin"


def ensure_labextension(wheelhouse: Path, source: Path = SOURCE) -> Path:
    """The prebuilt extension folder (``package.json`` + ``static/``) for
    ``share/jupyter/labextensions/@sandkasse/request-release`` in the notebook image."""
    key = _hash(source, SOURCES, extra=wheelhouse.name)
    target = _cache() / f"built-{key}"
    if (target / COMPLETE).exists():
        return target / "extension"
    with file_lock("labextension", timeout=NPM_TIMEOUT + BUILD_TIMEOUT + 60):
        if (target / COMPLETE).exists():
            return target / "extension"
        node_modules = ensure_node_modules(source)
        bin_dir = ensure_builder(wheelhouse)
        with tempfile.TemporaryDirectory(prefix="labextension-", dir=var_path("tmp")) as tmp:
            work = Path(tmp) / "src"
            work.mkdir()
            for name in SOURCES:
                src = source / name
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / name)
            (work / "node_modules").symlink_to(node_modules)
            env = {**_node_env(), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
            run([str(node_modules / ".bin" / "tsc")], what="compiling the JupyterLab extension (tsc)",
                timeout=BUILD_TIMEOUT, cwd=work, env=env)
            run([str(bin_dir / "jupyter-builder"), "build", str(work)], what="jupyter labextension build",
                timeout=BUILD_TIMEOUT, cwd=work, env=env)
            built = work / "build"
            if not (built / "package.json").exists() or not any((built / "static").glob("remoteEntry.*.js")):
                raise StackError(f"the JupyterLab extension build left no remoteEntry in {built}")
            partial = target.with_name(target.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            shutil.copytree(built, partial / "extension")
            _publish(partial, target)
    return target / "extension"
