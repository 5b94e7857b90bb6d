"""The Docker API filter (``images/hub/docker-api``) in front of the real engine: what DockerSpawner
needs passes, anything that would hand out the host is refused with 403."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from sandkasse.stack.compose import build_docker_api_filter_image
from sandkasse.stack.process import free_port, wait_until

pytestmark = pytest.mark.e2e

DATA_DIR = "/var/lib/sandkasse-filter-test"
HOST_PATH_VOLUME = {"type": "none", "o": "bind", "device": "/"}  # the local driver's bind mount: the host's root


@pytest.fixture(scope="module")
def filtered(docker_client: docker.DockerClient, base_image: str) -> Iterator[docker.DockerClient]:
    image = build_docker_api_filter_image()
    port = free_port()
    name = f"sk-docker-api-test-{secrets.token_hex(3)}"
    network = docker_client.networks.create(name, driver="bridge")  # its own, not the default bridge
    container = docker_client.containers.run(
        image,
        detach=True,
        name=name,
        network=name,
        environment={"SANDKASSE_DATA_DIR": DATA_DIR},
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        ports={"2375/tcp": ("127.0.0.1", port)},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        read_only=True,
        tmpfs={"/run": "", "/tmp": ""},
    )
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{port}", version="1.41", timeout=30)
    try:
        wait_until(lambda: client.ping(), timeout=30, what="docker-api filter")
        yield client
    finally:
        client.close()
        container.remove(force=True)
        network.remove()


def _create(client: docker.DockerClient, image: str, **kwargs) -> int:
    """HTTP status of a container creation through the filter (201 is removed again at once)."""
    try:
        c = client.containers.create(image, ["true"], **kwargs)
    except docker.errors.APIError as exc:
        return exc.status_code
    c.remove(force=True)
    return 201


def test_what_the_spawner_needs_passes(filtered: docker.DockerClient, base_image: str) -> None:
    assert filtered.images.get(base_image).id
    name = f"sk-filter-{secrets.token_hex(3)}"
    net = filtered.networks.create(name, internal=True, options={"com.docker.network.bridge.enable_icc": "false"})
    vol = filtered.volumes.create(name)
    try:
        assert _create(
            filtered, base_image, network=name, user="1000:1000", cap_drop=["ALL"], read_only=True,
            security_opt=["no-new-privileges:true"], pids_limit=64, mem_limit="64m",
            volumes={name: {"bind": "/home/x", "mode": "rw"}, f"{DATA_DIR}/projects/p/data": {"bind": "/data", "mode": "ro"}},
        ) == 201  # fmt: skip
        assert filtered.containers.list(all=True) is not None
    finally:
        net.remove()
        vol.remove()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"privileged": True},
        {"network_mode": "host"},
        {"pid_mode": "host"},
        {"cap_add": ["NET_ADMIN"]},
        {"devices": ["/dev/null:/dev/x"]},
        {"security_opt": ["seccomp=unconfined"]},
        {"volumes": {"/": {"bind": "/host", "mode": "ro"}}},
        {"volumes": {"/var/run/docker.sock": {"bind": "/s", "mode": "rw"}}},
        {"volumes": {f"{DATA_DIR}-evil": {"bind": "/x", "mode": "ro"}}},
        {"volumes": {f"{DATA_DIR}/../../etc": {"bind": "/x", "mode": "ro"}}},
        {"mounts": [docker.types.Mount("/x", "/etc", type="bind")]},
        # a volume the engine would create on the fly from a host path
        {"mounts": [docker.types.Mount("/x", "skv", type="volume", driver_config=docker.types.DriverConfig("local", HOST_PATH_VOLUME))]},
    ],
    ids=lambda kw: next(iter(kw)) + ":" + str(next(iter(kw.values())))[:30],
)
def test_container_definitions_that_hand_out_the_host_are_refused(filtered, base_image, kwargs) -> None:
    assert _create(filtered, base_image, **kwargs) == 403


def test_other_endpoints_are_refused(filtered: docker.DockerClient, docker_client: docker.DockerClient, base_image: str) -> None:
    target = docker_client.containers.run(base_image, ["sleep", "60"], detach=True, network_mode="none")
    try:
        with pytest.raises(docker.errors.APIError) as exec_refused:
            filtered.api.exec_create(target.id, ["id"])
        assert exec_refused.value.status_code == 403
    finally:
        target.remove(force=True)
    with pytest.raises(docker.errors.APIError) as pull_refused:
        filtered.api.pull("debian", tag="bookworm")
    assert pull_refused.value.status_code == 403
    with pytest.raises(docker.errors.APIError) as macvlan_refused:
        filtered.networks.create(f"sk-filter-{secrets.token_hex(3)}", driver="macvlan")
    assert macvlan_refused.value.status_code == 403
    with pytest.raises(docker.errors.APIError) as open_network_refused:
        filtered.networks.create(f"sk-filter-{secrets.token_hex(3)}", driver="bridge")  # not internal: a way out
    assert open_network_refused.value.status_code == 403
    with pytest.raises(docker.errors.APIError) as build_refused:
        list(filtered.api.build(fileobj=io.BytesIO(b"FROM scratch\n"), decode=True))
    assert build_refused.value.status_code == 403
    assert Path("/var/run/docker.sock").exists()  # the refusals came from the filter, not a missing engine


def test_a_volume_of_a_host_path_is_refused(filtered: docker.DockerClient, docker_client: docker.DockerClient) -> None:
    """A local volume with bind options is a host path that the bind checks never see; the engine itself
    creates it (control), the filter refuses it. Swarm services are refused too outside swarm mode."""
    name = f"sk-filter-{secrets.token_hex(3)}"
    with pytest.raises(docker.errors.APIError) as refused:
        filtered.volumes.create(name, driver="local", driver_opts=HOST_PATH_VOLUME)
    assert refused.value.status_code == 403
    docker_client.volumes.create(name, driver="local", driver_opts=HOST_PATH_VOLUME).remove()
    with pytest.raises(docker.errors.APIError) as service_refused:
        filtered.api.create_service(docker.types.TaskTemplate(docker.types.ContainerSpec("none", ["true"])))
    assert service_refused.value.status_code == 403
