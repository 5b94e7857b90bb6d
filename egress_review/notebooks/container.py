"""Run a notebook once in a fresh container of the notebook image, as locked in as a sandbox.

The container gets the sandbox's settings from ``policies/security.yaml`` through the same function
the spawner uses (:func:`hub.sandbox_settings.sandbox_host_config`: user 1000, no capabilities,
``no-new-privileges``, read-only root with a private ``/tmp``, PID limit, the sandbox DNS), the
sandbox's memory and CPU limits, *no* network at all (``network_mode=none``: a re-run has no reason
to reach even the egress service), and the project's extracts read-only at ``/data``, nothing else.
The notebook goes in through the environment (:mod:`.runner`), the files come back on standard
output, read through a bounded stream with a capped log: the worker never opens a path the
container wrote, so a link planted there leads nowhere, and a notebook printing without end fills
neither memory nor disk. Everything the container says is parsed as hostile input."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests
from docker.types import LogConfig

from egress_review.notebooks.code import code_only
from egress_review.notebooks.runner import MARKER, RUNNER

log = logging.getLogger(__name__)

DATA_MOUNT = "/data"
OUT_DIR = "/tmp/out"
# One environment string may hold at most 128 KiB; together they share the kernel's argument space.
CHUNK = 96 * 1024
MAX_PAYLOAD = 1024 * 1024
MAX_FILES = 200


@dataclass(frozen=True)
class RunResult:
    ran: bool  # every cell ran without an error
    error: str = ""  # why not (may quote the notebook's output: sealed by the caller)
    files: dict[str, bytes] = field(default_factory=dict)  # what request_export would have sent
    skipped: dict[str, str] = field(default_factory=dict)  # names handed back as links, too large, ...


def failed(error: str) -> RunResult:
    return RunResult(False, error)


def parse_result(stdout: bytes, max_output_bytes: int) -> RunResult:
    """The runner's last ``MARKER`` line, checked: plain names, base64 content, sizes within limits."""
    text = stdout.decode("utf-8", errors="replace")
    line = next((ln for ln in reversed(text.splitlines()) if ln.startswith(MARKER)), None)
    if line is None:
        return failed("the container handed back no result (killed, out of memory, or its output was cut)")
    try:
        data = json.loads(line[len(MARKER):])
    except (ValueError, RecursionError):
        return failed("the container's result is not readable")
    if not isinstance(data, dict) or not isinstance(data.setdefault("files", {}), dict):
        return failed("the container's result is not readable")
    files: dict[str, bytes] = {}
    skipped = {str(k)[:200]: str(v)[:200] for k, v in list((data.get("skipped") or {}).items())[:MAX_FILES]} \
        if isinstance(data.get("skipped"), dict) else {}
    total = 0
    for name, b64 in list(data["files"].items())[: MAX_FILES]:
        if not isinstance(name, str) or not name or "/" in name or "\0" in name or name in (".", "..") \
                or len(name) > 255 or not isinstance(b64, str):
            skipped[str(name)[:200]] = "not a plain file name"
            continue
        try:
            content = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            skipped[name] = "not readable"
            continue
        total += len(content)
        if total > max_output_bytes:
            skipped[name] = "over the size limit"
            break
        files[name] = content
    ran = data.get("ran") is True
    error = str(data.get("error") or "")[:4000]
    return RunResult(ran, error if not ran else "", files, skipped)


@dataclass
class NotebookContainer:
    client: docker.APIClient
    image: str
    security: object  # hub.policy.SecurityPolicy
    timeout_seconds: float = 600.0
    cell_timeout_seconds: int = 300
    max_output_bytes: int = 50 * 1024 * 1024

    def host_config(self, extract_dir: Path | None) -> dict:
        from hub.sandbox_settings import sandbox_host_config

        box = self.security.sandbox
        binds = {str(extract_dir): {"bind": DATA_MOUNT, "mode": "ro"}} if extract_dir is not None else {}
        # base64 and the runner's own lines: the log holds the result line whatever was printed before
        log_bytes = self.max_output_bytes * 2 + 1024 * 1024
        return self.client.create_host_config(
            **sandbox_host_config(self.security),
            binds=binds,
            network_mode="none",
            mem_limit=box.memory,
            memswap_limit=box.memory,
            nano_cpus=int(box.cpus * 1e9),
            log_config=LogConfig(type=LogConfig.types.JSON, config={"max-size": str(log_bytes), "max-file": "1"}),
        )

    def environment(self, notebook: bytes) -> dict[str, str]:
        payload = base64.b64encode(code_only(notebook)).decode()
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"its code is {len(payload)} bytes in base64, more than {MAX_PAYLOAD}")
        env = {f"SANDKASSE_NB_{i // CHUNK}": payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)}
        return {
            **env,
            "SANDKASSE_REEXECUTION_OUT": OUT_DIR,
            "SANDKASSE_DATA_MOUNTS": DATA_MOUNT,
            "SANDKASSE_CELL_TIMEOUT": str(self.cell_timeout_seconds),
            "SANDKASSE_MAX_OUTPUT_BYTES": str(self.max_output_bytes),
            # the root file system is read-only: everything a kernel writes goes to the private /tmp
            "HOME": "/tmp/home",
            "JUPYTER_RUNTIME_DIR": "/tmp/runtime",
            "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
            "IPYTHONDIR": "/tmp/ipython",
            "MPLCONFIGDIR": "/tmp/mpl",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
        }

    def _stdout(self, container: str) -> bytes:
        cap = self.max_output_bytes * 2 + 1024 * 1024
        chunks, size = [], 0
        for chunk in self.client.logs(container, stdout=True, stderr=False, stream=True, follow=False):
            size += len(chunk)
            chunks.append(chunk)
            while size > cap and len(chunks) > 1:  # keep the tail: the result line is the last
                size -= len(chunks.pop(0))
        return b"".join(chunks)

    def run(self, notebook: bytes, extract_dir: Path | None, labels: Mapping[str, str] | None = None) -> RunResult:
        from hub.sandbox_settings import sandbox_user

        try:
            env = self.environment(notebook)
        except ValueError as exc:
            return failed(f"the notebook cannot be re-run: {exc}")
        container = self.client.create_container(
            self.image,
            command=["python3", "-I", "-c", RUNNER],
            entrypoint=[],
            user=sandbox_user(self.security),
            working_dir="/tmp",
            environment=env,
            network_disabled=True,
            labels={**(labels or {}), "org.sandkasse.role": "notebook-reexecution"},
            host_config=self.host_config(extract_dir),
        )["Id"]
        try:
            self.client.start(container)
            try:
                status = self.client.wait(container, timeout=self.timeout_seconds)
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                self.client.kill(container)
                return failed(f"the notebook did not finish within {self.timeout_seconds:g} s")
            result = parse_result(self._stdout(container), self.max_output_bytes)
            if status.get("StatusCode") not in (0, None) and result.ran:
                return failed(f"the container exited {status.get('StatusCode')}")
            if (status.get("StatusCode") == 137 or self.client.inspect_container(container)["State"].get("OOMKilled")) \
                    and not result.ran:
                return failed("the notebook was stopped by the sandbox's memory limit")
            return result
        finally:
            try:
                self.client.remove_container(container, force=True)
            except docker.errors.APIError:
                log.warning("could not remove re-execution container %s", container[:12])
