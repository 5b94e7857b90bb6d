"""The sandbox security policy (``policies/security.yaml``) as a validated model."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, IPvAnyAddress

from sandkasse.policy import load_policy


class SandboxLimits(BaseModel):
    memory: str
    cpus: float = Field(gt=0)
    pids: int = Field(gt=16)
    uid: int = Field(gt=0, description="never 0: the notebook must not run as root")
    gid: int = Field(gt=0)
    read_only_root: bool = True
    tmp_size: str = "512m"
    shared_folder: bool = False
    terminals: bool = False


class CredentialsPolicy(BaseModel):
    project_token_ttl_seconds: int = Field(gt=60)


class LifecyclePolicy(BaseModel):
    enforce_interval_seconds: int = Field(gt=0, le=60)
    idle_timeout_seconds: int = Field(gt=0)
    # What happens to the workspace and /shared volumes of a closed project (hub/retention.py).
    on_close: Literal["delete", "archive"] = "delete"


class NotebookOutputPolicy(BaseModel):
    iopub_data_rate_limit: int = Field(gt=0)
    iopub_msg_rate_limit: int = Field(gt=0)
    rate_limit_window: float = Field(gt=0)
    max_notebook_output_bytes: int = Field(gt=0)
    max_file_content_bytes: int = Field(gt=0)


class BrowserReadsPolicy(BaseModel):
    """What a browser may receive from one researcher's notebook servers of one project per UTC day,
    counted by the hub's meter (:mod:`hub.meter`) outside the sandbox."""

    daily_bytes: int = Field(default=100_000_000, gt=0)
    max_response_bytes: int = Field(default=20_000_000, gt=0)


class NetworkPolicy(BaseModel):
    bridge_prefix: str = Field(min_length=2, max_length=5)
    chain: str = Field(min_length=1, max_length=28)
    hub_api_port: int = Field(gt=0, lt=65536)
    egress_port: int = Field(gt=0, lt=65536)
    # Upstream resolvers given to every sandbox (`--dns`): addresses that exist nowhere, so the engine's
    # embedded resolver forwards from the sandbox's own namespace and nothing answers (hub/engine_check.py).
    sandbox_dns: list[IPvAnyAddress] = Field(default_factory=lambda: [IPvAnyAddress("192.0.2.53")], max_length=3)


class SecurityPolicy(BaseModel):
    version: int
    sandbox: SandboxLimits
    credentials: CredentialsPolicy
    lifecycle: LifecyclePolicy
    notebook_output: NotebookOutputPolicy
    browser_reads: BrowserReadsPolicy = Field(default_factory=BrowserReadsPolicy)
    network: NetworkPolicy


def load_security_policy(path: Path | None = None) -> SecurityPolicy:
    return load_policy(SecurityPolicy, "security", path=path)


@lru_cache
def security_policy() -> SecurityPolicy:
    return load_security_policy()
