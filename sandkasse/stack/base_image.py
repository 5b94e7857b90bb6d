"""The base image: a minimal Debian bookworm with python3, made by ``debootstrap`` and ``docker import``
because there is no registry to pull from. The root filesystem tarball is cached under
``var/cache/base/<key>.tar``; the key follows the recipe (suite, variant, ``images/base/packages.txt``)."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import docker.errors

from sandkasse.settings import REPO_ROOT
from sandkasse.stack.docker_engine import ensure_docker
from sandkasse.stack.process import StackError, apt_install, file_lock, log_path, run, var_path

SUITE = "bookworm"
VARIANT = "minbase"
REPOSITORY = "sandkasse/base"
PACKAGES_FILE = REPO_ROOT / "images" / "base" / "packages.txt"
# Bump when the way the root filesystem is made changes without the package list changing.
RECIPE_VERSION = 1
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP_TIMEOUT = 900.0

# The image's own defaults; no proxy variables and nothing from the host environment.
IMAGE_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
    f"LABEL org.sandkasse.image=base org.sandkasse.suite={SUITE}",
]


def package_list(path: Path) -> list[str]:
    """Debian package names from a list file (one a line, ``#`` comments), e.g. a variant's extra packages."""
    lines = (ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines())
    return [ln for ln in lines if ln]


def base_packages() -> list[str]:
    return package_list(PACKAGES_FILE)


def rootfs_packages(include: Sequence[str] = ()) -> list[str]:
    """``packages.txt`` plus the variant's ``include`` (e.g. the stack's service images add
    postgresql, a JRE and nginx), sorted and without duplicates."""
    return sorted({*base_packages(), *include})


def base_key(include: Sequence[str] = ()) -> str:
    recipe = f"{RECIPE_VERSION}|{SUITE}|{VARIANT}|{','.join(rootfs_packages(include))}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def base_tag(include: Sequence[str] = ()) -> str:
    return f"{REPOSITORY}:{SUITE}-{base_key(include)}"


def debian_mirror() -> str:
    """The mirror this machine's apt uses (deb822 ``debian.sources`` or the one-line format), so
    debootstrap goes where apt is allowed to go."""
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.exists():
        for stanza in deb822.read_text().split("\n\n"):
            fields = dict(
                (k.strip().lower(), v.strip())
                for k, _, v in (ln.partition(":") for ln in stanza.splitlines() if ":" in ln and not ln.startswith("#"))
            )
            if SUITE in fields.get("suites", "").split() and fields.get("uris"):
                return fields["uris"].split()[0]
    for listing in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if listing.exists():
            m = re.search(rf"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+{SUITE}\s", listing.read_text(), re.M)
            if m:
                return m.group(1)
    return DEFAULT_MIRROR


def _build_rootfs_tarball(tarball: Path, packages: Sequence[str]) -> None:
    if shutil.which("debootstrap") is None:
        apt_install(["debootstrap"])
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sandkasse-rootfs-", dir=var_path("tmp")) as tmp:
        rootfs = Path(tmp) / "rootfs"
        log = log_path("debootstrap")
        log.write_text("")
        result = run(
            [
                "debootstrap",
                f"--variant={VARIANT}",
                f"--include={','.join(packages)}",
                SUITE,
                str(rootfs),
                debian_mirror(),
            ],
            what="debootstrap (base image root filesystem)",
            timeout=DEBOOTSTRAP_TIMEOUT,
        )
        log.write_text(result.stdout + result.stderr)
        # Docker provides these per container; the host's copies must not end up in the image.
        for leftover in ("etc/resolv.conf", "etc/hostname", "etc/hosts"):
            (rootfs / leftover).unlink(missing_ok=True)
        for cached in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            cached.unlink()
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".tar.partial")
        run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], what="tar of the root filesystem", timeout=600)
        partial.rename(tarball)  # atomic: a crash never leaves a half tarball under the real name


def ensure_base_image(include: Sequence[str] = ()) -> str:
    """The tag of the local base image, building or importing it when missing. ``include`` names
    extra Debian packages for a variant (its own cache key and tag); Dockerfiles never apt-get."""
    dc = ensure_docker()
    tag = base_tag(include)
    with file_lock(f"base-image-{base_key(include)}", timeout=DEBOOTSTRAP_TIMEOUT + 300):
        try:
            dc.images.get(tag)
            return tag
        except docker.errors.ImageNotFound:
            pass
        tarball = var_path("cache", "base") / f"{base_key(include)}.tar"
        if not tarball.exists():
            _build_rootfs_tarball(tarball, rootfs_packages(include))
        argv = ["docker", "import"]
        for change in IMAGE_CHANGES:
            argv += ["--change", change]
        run([*argv, str(tarball), tag], what="docker import of the base image", timeout=600)
    try:
        dc.images.get(tag)
    except docker.errors.ImageNotFound as exc:
        raise StackError(f"`docker import` succeeded but {tag} is not there") from exc
    return tag
