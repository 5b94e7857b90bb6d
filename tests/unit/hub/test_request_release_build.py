"""The "Request release" extension is built for the JupyterLab of the notebook image: its
``@jupyterlab/core-meta`` (the shared packages' versions the builder uses) is the image's pinned
``jupyterlab``, and its @jupyterlab dependencies are that release's; the build runs only from the
lock file, with no install scripts."""

from __future__ import annotations

import json
import re

import pytest

from hub.images import notebook_requirements
from sandkasse.stack import labextension

pytestmark = pytest.mark.unit


def _package() -> dict:
    return json.loads((labextension.SOURCE / "package.json").read_text())


def test_the_extension_is_built_for_the_images_jupyterlab():
    pins = [r for r in notebook_requirements() if re.match(r"^jupyterlab\s*==", r)]
    assert len(pins) == 1, "the notebook image must pin jupyterlab exactly (the extension is built against it)"
    lab = pins[0].split("==")[1].strip()
    pkg = _package()
    assert pkg["devDependencies"]["@jupyterlab/core-meta"] == lab
    assert pkg["dependencies"]["@jupyterlab/application"] == f"~{lab}"
    lock = json.loads((labextension.SOURCE / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@jupyterlab/application"]["version"] == lab
    assert lock["packages"]["node_modules/@jupyterlab/core-meta"]["version"] == lab


def test_the_lock_fixes_every_package_by_its_hash_from_the_npm_registry():
    lock = json.loads((labextension.SOURCE / "package-lock.json").read_text())
    for name, entry in lock["packages"].items():
        if name:
            # no git, file or tarball URLs: registry packages only, each checked by its integrity hash
            assert entry.get("resolved", "https://registry.npmjs.org/").startswith("https://registry.npmjs.org/"), name
            assert entry.get("integrity", "").startswith("sha512-"), name
