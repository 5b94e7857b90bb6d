"""Building the images in ``images/<name>/`` on top of the local base image, with a build context
assembled in a temporary folder (the Dockerfile's folder plus wheelhouses and other files). The tag
is a hash of everything that goes in, so an unchanged image is never rebuilt."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker.errors

from sandkasse.settings import REPO_ROOT
from sandkasse.stack.base_image import ensure_base_image
from sandkasse.stack.docker_engine import ensure_docker
from sandkasse.stack.process import StackError, file_lock, log_path, log_tail, var_path

IMAGES_DIR = REPO_ROOT / "images"
BUILD_TIMEOUT = 1800


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    if root.is_file():
        yield "", root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            path = Path(dirpath) / fn
            yield str(path.relative_to(root)), path


def content_hash(dockerfile_dir: Path, build_args: dict[str, str], context_files: dict[str, Path]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(sorted(build_args.items())).encode())
    for prefix, root in [(".", dockerfile_dir), *sorted(context_files.items())]:
        for rel, path in _files(Path(root)):
            h.update(f"\0{prefix}/{rel}\0".encode())
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def _place(src: Path, dest: Path) -> None:
    """Hard-link (same file system as var/cache) or copy ``src`` into the build context."""

    def link_or_copy(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    if src.is_dir():
        shutil.copytree(src, dest, copy_function=link_or_copy)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(str(src), str(dest))


def image_exists(tag: str) -> bool:
    try:
        ensure_docker().images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(
    name: str,
    *,
    build_args: dict[str, str] | None = None,
    context_files: dict[str, Path] | None = None,
    images_dir: Path = IMAGES_DIR,
) -> str:
    """Build ``images_dir/<name>/Dockerfile`` and return ``sandkasse/<name>:<content-hash>``.

    ``build_args`` gets ``BASE_IMAGE`` (the local base image) unless the caller sets it.
    ``context_files`` maps a name in the build context to a file or folder (e.g. ``{"wheels": path}``).
    The build runs with ``--network none``: a Dockerfile that reaches for the network fails here
    rather than quietly depending on it; Python packages come from a wheelhouse in the context."""
    dockerfile_dir = images_dir / name
    if not (dockerfile_dir / "Dockerfile").exists():
        raise StackError(f"no Dockerfile in {dockerfile_dir}")
    args = dict(build_args or {})
    args.setdefault("BASE_IMAGE", ensure_base_image())
    extra = {k: Path(v) for k, v in (context_files or {}).items()}
    tag = f"sandkasse/{name}:{content_hash(dockerfile_dir, args, extra)}"
    dc = ensure_docker()
    with file_lock(f"image-{name}", timeout=BUILD_TIMEOUT + 60):
        if image_exists(tag):
            return tag
        log = log_path(f"image-{name}")
        with tempfile.TemporaryDirectory(prefix=f"sandkasse-ctx-{name}-", dir=var_path("tmp")) as tmp:
            ctx = Path(tmp) / "ctx"
            shutil.copytree(dockerfile_dir, ctx)
            for dest_name, src in extra.items():
                if not src.exists():
                    raise StackError(f"build context file {src} for {name} does not exist")
                _place(src, ctx / dest_name)
            with log.open("w") as out:
                for chunk in dc.api.build(
                    path=str(ctx),
                    tag=tag,
                    buildargs=args,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    network_mode="none",
                    labels={"org.sandkasse.image": name},
                    timeout=BUILD_TIMEOUT,
                    decode=True,
                    use_config_proxy=False,  # the host's proxy settings must not leak into images
                ):
                    if "stream" in chunk:
                        out.write(chunk["stream"])
                    if "error" in chunk:
                        out.write(chunk["error"] + "\n")
                        out.flush()
                        raise StackError(f"building {name} failed: {chunk['error']}\n{log_tail(log)}")
        if not image_exists(tag):
            raise StackError(f"building {name} finished but {tag} is missing\n{log_tail(log)}")
        dc.images.get(tag).tag(f"sandkasse/{name}", "latest")
    return tag
