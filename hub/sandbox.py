"""What every notebook sandbox gets, whatever engine runs it: one decision that the Docker spawner
(``hub/spawner.py``) and the Kubernetes spawner (``hub/kube/``) each render in their engine's words.

A sandbox is one (researcher, project): the project's extracts read-only, a workspace of its own, the
project's ``/shared`` folder when the policy allows, a per-project network, an unprivileged user with
no capabilities and no way to gain privileges, a read-only root, and the policy's limits. Changing a
control here changes it for every engine; the tests of both renderings fail when one goes missing.

``ProjectSandboxMixin`` holds what both spawners ask and give before they touch the engine: which
project a named server is, whether the user may work in it today, and the notebook's environment
(lockdown settings, egress endpoint, a project token bound to a network).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict
from tornado import web
from traitlets import Unicode, default
from traitlets.config import LoggingConfigurable

from hub.policy import SecurityPolicy, load_security_policy, security_policy
from hub.projects import ProjectDirectory

HOME = "/home/researcher"
DATA_MOUNT = "/data"
SHARED_MOUNT = "/shared"
TMP_MOUNT = "/tmp"
JUPYTER_CONFIG_DIR = "/etc/sandkasse/jupyter"
NOTEBOOK_ROLE = "notebook"


class Mount(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["extracts", "workspace", "shared"]
    source: str  # Docker: host folder or volume name; Kubernetes: claim name
    target: str
    read_only: bool


class SandboxSpec(BaseModel):
    """The controls of one sandbox, engine-neutral."""

    model_config = ConfigDict(frozen=True)

    project: str
    user: str
    network: str  # the project's own network (Docker network name; Kubernetes: NetworkPolicy name)
    uid: int
    gid: int
    memory: str  # the policy's spelling (JupyterHub byte units)
    cpus: float
    pids: int
    read_only_root: bool
    tmp_size: str
    drop_capabilities: tuple[str, ...] = ("ALL",)
    no_new_privileges: bool = True
    privileged: bool = False
    seccomp: Literal["RuntimeDefault"] = "RuntimeDefault"  # Docker applies its default profile unasked
    disable_ipv6: bool = True
    dns: tuple[str, ...]
    working_dir: str = HOME
    mounts: tuple[Mount, ...]
    labels: dict[str, str]

    @property
    def extracts(self) -> Mount:
        return next(m for m in self.mounts if m.kind == "extracts")


def sandbox_labels(project: str, user: str) -> dict[str, str]:
    return {"org.sandkasse.project": project, "org.sandkasse.user": user, "org.sandkasse.role": NOTEBOOK_ROLE}


def sandbox_spec(
    policy: SecurityPolicy,
    *,
    project: str,
    user: str,
    network: str,
    extracts: str,
    workspace: str,
    shared: str | None,
) -> SandboxSpec:
    """The sandbox of ``user`` in ``project``; ``shared`` is ignored unless the policy allows the folder."""
    box = policy.sandbox
    mounts = [
        Mount(kind="extracts", source=extracts, target=DATA_MOUNT, read_only=True),
        Mount(kind="workspace", source=workspace, target=HOME, read_only=False),
    ]
    if box.shared_folder and shared:
        mounts.append(Mount(kind="shared", source=shared, target=SHARED_MOUNT, read_only=False))
    return SandboxSpec(
        project=project,
        user=user,
        network=network,
        uid=box.uid,
        gid=box.gid,
        memory=box.memory,
        cpus=box.cpus,
        pids=box.pids,
        read_only_root=box.read_only_root,
        tmp_size=box.tmp_size,
        dns=tuple(str(a) for a in policy.network.sandbox_dns),
        mounts=tuple(mounts),
        labels=sandbox_labels(project, user),
    )


def sandbox_environment(policy: SecurityPolicy, *, project: str, user: str, egress_url: str) -> dict[str, str]:
    """The notebook's environment from the policy (lockdown limits, where things are); no credential."""
    out = policy.notebook_output
    return {
        "SANDKASSE_PROJECT": project,
        "SANDKASSE_USER": user,
        "SANDKASSE_EGRESS_URL": egress_url,
        "SANDKASSE_DATA_MOUNTS": DATA_MOUNT,
        "SANDKASSE_MAX_FILE_CONTENT_BYTES": str(out.max_file_content_bytes),
        "SANDKASSE_MAX_NOTEBOOK_OUTPUT_BYTES": str(out.max_notebook_output_bytes),
        "SANDKASSE_IOPUB_DATA_RATE_LIMIT": str(out.iopub_data_rate_limit),
        "SANDKASSE_IOPUB_MSG_RATE_LIMIT": str(out.iopub_msg_rate_limit),
        "SANDKASSE_RATE_LIMIT_WINDOW": str(out.rate_limit_window),
        "SANDKASSE_TERMINALS": "1" if policy.sandbox.terminals else "0",
        "JUPYTER_CONFIG_DIR": JUPYTER_CONFIG_DIR,
        "JUPYTERLAB_SETTINGS_DIR": f"{HOME}/.jupyter/lab/user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": f"{HOME}/.jupyter/lab/workspaces",
        "PYTHONNOUSERSITE": "1",
        "HOME": HOME,
    }


def refuse(status: int, message: str) -> web.HTTPError:
    """An HTTP error whose message JupyterHub shows as it is, on its error page and in API replies
    (the hub replaces a failed spawn's reason with a generic text otherwise)."""
    error = web.HTTPError(status, message)
    error.jupyterhub_message = message
    return error


class ProjectSandboxMixin(LoggingConfigurable):
    """The project-aware part of a spawner: mixed in before the engine's spawner class."""

    database_url = Unicode(
        "",
        help="SQLAlchemy URL of the provisioning database; empty means SANDKASSE_DATABASE_URL (or SQLite under var/).",
    ).tag(config=True)
    egress_url = Unicode(
        "",
        help="Egress URL given to the notebook; empty means the engine's default (Docker: the project network's gateway).",
    ).tag(config=True)
    project_token_key = Unicode(
        help="Shared key (SANDKASSE_PROJECT_TOKEN_KEY) for the project tokens the egress service accepts.",
    ).tag(config=True)
    policy_file = Unicode("", help="Security policy file; empty means policies/security.yaml.").tag(config=True)

    @default("project_token_key")
    def _project_token_key_default(self) -> str:
        return os.environ.get("SANDKASSE_PROJECT_TOKEN_KEY", "")

    @property
    def policy(self) -> SecurityPolicy:
        if self.policy_file:
            return load_security_policy(Path(self.policy_file))
        return security_policy()

    @property
    def directory(self) -> ProjectDirectory:
        return ProjectDirectory(self.database_url or None)

    @property
    def project_slug(self) -> str:
        return self.name or str(self.user_options.get("project") or "")

    async def get_options_form(self) -> str:
        """Nothing to choose for a named server (the project): it starts at once. The default server does
        not exist here; its spawn page is the project list (hub/templates/spawn.html), which a non-empty
        form makes JupyterHub render instead of starting it."""
        return "" if self.name else "<!-- the projects are listed by hub/templates/spawn.html -->"

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, str]:
        chosen = (formdata.get("project") or [""])[0]
        return {"project": chosen} if chosen else {}

    async def _check_project(self) -> str:
        slug = self.project_slug
        asked = self.user_options.get("project")
        if not self.name:
            raise refuse(403, "Start a notebook per project: choose a project on the spawn page (its server is named after the project).")
        if asked and asked != self.name:
            raise refuse(403, f"This server belongs to project '{self.name}', not '{asked}'.")
        reason = await self.directory.refusal(self.user.name, slug)
        if reason:
            self.log.warning("refused %s for project %s: %s", self.user.name, slug, reason)
            raise refuse(403, reason)
        return slug

    def sandbox_env(self, slug: str, egress_url: str, network: str | None) -> dict[str, str]:
        """The policy's environment plus the egress credential: a project token bound to (user,
        project) and to ``network``, the only addresses it is accepted from."""
        env = sandbox_environment(self.policy, project=slug, user=self.user.name, egress_url=egress_url)
        from provisioning.api import twin_application

        if twin_application(slug) is not None:
            # an application's synthetic twin: nothing in it may leave, so no egress credential at all
            env["SANDKASSE_SYNTHETIC"] = "1"
            return env
        if self.project_token_key:
            from egress_review.identity.project_token import issue_project_token

            env["SANDKASSE_EGRESS_TOKEN"] = issue_project_token(
                self.user.name, slug, self.project_token_key.encode(), self.policy.credentials.project_token_ttl_seconds,
                network=network,
            )
        else:
            self.log.warning("no SANDKASSE_PROJECT_TOKEN_KEY: %s's notebook gets no egress credential", self.user.name)
        return env
