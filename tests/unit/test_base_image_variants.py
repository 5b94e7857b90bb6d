"""The notebook image's base is a variant of its own (issue 17.1): R and the IRkernel come from
``images/notebook/packages.txt`` under their own cache key, and the plain base (hub, egress) stays without R."""

from __future__ import annotations

import pytest

from hub.images import NOTEBOOK_PACKAGES
from sandkasse.stack.base_image import base_key, base_packages, package_list, rootfs_packages

pytestmark = pytest.mark.unit


def test_r_is_in_the_notebook_variant_only():
    r = package_list(NOTEBOOK_PACKAGES)
    assert {"r-base-core", "r-cran-irkernel", "r-cran-data.table", "r-cran-dplyr", "r-cran-jsonlite"} <= set(r)
    assert not any(p.startswith("r-") for p in base_packages())
    assert base_key(r) != base_key() and set(base_packages()) < set(rootfs_packages(r))


def test_package_lists_drop_comments_and_blank_lines(tmp_path):
    f = tmp_path / "packages.txt"
    f.write_text("# a comment\nr-base-core\n\n  r-cran-irkernel  # the kernel\n")
    assert package_list(f) == ["r-base-core", "r-cran-irkernel"]
