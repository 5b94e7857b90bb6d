"""The locally built base image runs Python, and images built on it install packages only from a
host-built wheelhouse, with no network in the build."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import docker
import pytest

from sandkasse.stack.images import build_image
from sandkasse.stack.wheelhouse import ensure_wheelhouse

pytestmark = pytest.mark.e2e


def test_container_from_base_image_runs_python3(docker_client: docker.DockerClient, base_image: str) -> None:
    assert re.fullmatch(r"sandkasse/base:bookworm-[0-9a-f]{12}", base_image)
    out = docker_client.containers.run(
        base_image, ["python3", "-c", "import sys; print(sys.version_info[:2])"], remove=True, network_mode="none"
    )
    assert out.decode().strip() == "(3, 11)"


def test_base_image_carries_no_host_proxy_or_dns(docker_client: docker.DockerClient, base_image: str) -> None:
    config = docker_client.images.get(base_image).attrs["Config"]
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    assert not {k for k in env if k.lower().endswith("_proxy")}
    # Debian's own CA bundle is in the image, not the host's
    out = docker_client.containers.run(
        base_image, ["sh", "-c", "ls /etc/ssl/certs/ca-certificates.crt && dpkg -s ca-certificates | grep Status"],
        remove=True, network_mode="none",
    )  # fmt: skip
    assert b"install ok installed" in out


def test_image_installs_python_packages_from_the_wheelhouse_without_network(
    docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "Dockerfile").write_text(
        textwrap.dedent(
            """\
            ARG BASE_IMAGE
            FROM ${BASE_IMAGE} AS build
            COPY wheels /wheels
            RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-index --find-links /wheels idna
            FROM ${BASE_IMAGE}
            COPY --from=build /opt/venv /opt/venv
            """
        )
    )
    wheels = ensure_wheelhouse(["idna==3.10"], "testbed-probe")
    tag = build_image("probe", context_files={"wheels": wheels}, images_dir=tmp_path)
    assert tag.startswith("sandkasse/probe:")
    assert build_image("probe", context_files={"wheels": wheels}, images_dir=tmp_path) == tag  # cached by content
    out = docker_client.containers.run(
        tag, ["/opt/venv/bin/python", "-c", "import idna; print(idna.encode('bø.no').decode())"],
        remove=True, network_mode="none",
    )  # fmt: skip
    assert out.decode().strip() == "xn--b-5ga.no"
