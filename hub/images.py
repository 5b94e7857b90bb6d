"""The notebook image: the local base image, the notebook requirements from a host-built wheelhouse
and the sandkasse wheel installed without dependencies. Cached: the tag is a hash of everything
that goes in (``sandkasse.stack.images.build_image``), so an unchanged image is never rebuilt."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sandkasse.settings import REPO_ROOT
from sandkasse.stack.base_image import ensure_base_image, package_list
from sandkasse.stack.images import build_image
from sandkasse.stack.labextension import ensure_labextension
from sandkasse.stack.process import var_path
from sandkasse.stack.wheelhouse import build_project_wheel, ensure_wheelhouse

NOTEBOOK_REQUIREMENTS = REPO_ROOT / "images" / "notebook" / "requirements.txt"
# R and the IRkernel: a base variant of its own (own cache key), so the hub and egress images stay without R
NOTEBOOK_PACKAGES = REPO_ROOT / "images" / "notebook" / "packages.txt"
R_PACKAGE = REPO_ROOT / "r" / "sdc"


def ensure_notebook_base() -> str:
    """The notebook image's base: the local base image plus the Debian packages in ``packages.txt``."""
    return ensure_base_image(include=package_list(NOTEBOOK_PACKAGES))


def notebook_requirements(path: Path = NOTEBOOK_REQUIREMENTS) -> list[str]:
    lines = (ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines())
    return [ln for ln in lines if ln]


def ensure_notebook_image(base_image: str | None = None) -> str:
    """Tag of the notebook image, building it when missing (``base_image`` overrides BASE_IMAGE: an image
    without R builds without the R kernel)."""
    wheels = ensure_wheelhouse(notebook_requirements(), "notebook")
    # A private folder for the wheel: other processes build theirs at the same time, and a shared
    # folder would be emptied under our feet. The wheel is reproducible, so the tag stays the same.
    project = Path(tempfile.mkdtemp(prefix="project-wheel-", dir=var_path("tmp")))
    try:
        build_project_wheel(project)
        args = {"BASE_IMAGE": base_image or ensure_notebook_base(), "WITH_R": "no" if base_image else "yes"}
        # The sdc wrappers read the disclosure policy; the image carries the reviewed policies root-owned.
        context = {"wheels": wheels, "project": project, "policies": REPO_ROOT / "policies", "r": REPO_ROOT / "r",
                   # JupyterLab's "Request release" front end, prebuilt on the host from the npm registry.
                   "request-release": ensure_labextension()}
        return build_image("notebook", build_args=args, context_files=context)
    finally:
        shutil.rmtree(project, ignore_errors=True)
