"""JupyterLab's "Request release" front end (``images/notebook/labextension``), built on the host for
the notebook image: containers never reach the network, so the npm packages are installed here (npm
registry, versions fixed by ``package-lock.json``) and the prebuilt federated extension is copied into
the image. Nothing is fetched when the notebook runs.

The build is what ``jupyter labextension build`` runs: ``@jupyterlab/builder``'s
``build-labextension`` with ``--core-path`` holding ``@jupyterlab/core-meta`` of the image's pinned
JupyterLab (the shared packages' versions), so the extension shares the image's JupyterLab packages.
It is called directly rather than through JupyterLab 4.6's Python wrapper (``jupyter-builder``),
which insists on the Node.js of the newer rspack builder; this one runs on Debian's Node.js 18.

Cached under ``var/cache/labextension/``: ``npm-<hash of package.json and lock>`` (node_modules)
and ``built-<hash of the sources>`` (the result), so an unchanged
extension is never rebuilt and a changed source does not re-download its packages. The build runs
in a copy of the sources, never in the repository (the notebook image's build context holds the
folder)."""

from __future__ import annotations

import hashlib
import os
import shutil
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


def ensure_labextension(source: Path = SOURCE) -> Path:
    """The prebuilt extension folder (``package.json`` + ``static/``) for
    ``share/jupyter/labextensions/@sandkasse/request-release`` in the notebook image."""
    key = _hash(source, SOURCES)
    target = _cache() / f"built-{key}"
    if (target / COMPLETE).exists():
        return target / "extension"
    with file_lock("labextension", timeout=NPM_TIMEOUT + BUILD_TIMEOUT + 60):
        if (target / COMPLETE).exists():
            return target / "extension"
        node_modules = ensure_node_modules(source)
        with tempfile.TemporaryDirectory(prefix="labextension-", dir=var_path("tmp")) as tmp:
            work = Path(tmp) / "src"
            work.mkdir()
            for name in SOURCES:
                src = source / name
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / name)
            (work / "node_modules").symlink_to(node_modules)
            # The core package of the image's JupyterLab, as the builder wants it: a folder with package.json.
            core = Path(tmp) / "core"
            core.mkdir()
            shutil.copy2(node_modules / "@jupyterlab" / "core-meta" / "core.package.json", core / "package.json")
            run([str(node_modules / ".bin" / "tsc")], what="compiling the JupyterLab extension (tsc)",
                timeout=BUILD_TIMEOUT, cwd=work, env=_node_env())
            run(["node", str(node_modules / "@jupyterlab" / "builder" / "lib" / "build-labextension.js"),
                 "--core-path", str(core), str(work)],
                what="building the JupyterLab extension (build-labextension)", timeout=BUILD_TIMEOUT, cwd=work,
                env=_node_env())
            built = work / "build"
            if not (built / "package.json").exists() or not any((built / "static").glob("remoteEntry.*.js")):
                raise StackError(f"the JupyterLab extension build left no remoteEntry in {built}")
            partial = target.with_name(target.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            shutil.copytree(built, partial / "extension")
            _publish(partial, target)
    return target / "extension"
