"""The authenticated caller, whatever proved it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sandkasse.usernames import normalise_username
from sandkasse.web.tokens import AuthError  # noqa: F401 - one AuthError for every UI and API


class Role(StrEnum):
    RESEARCHER = "researcher"
    CHECKER = "output-checker"
    ADMIN = "admin"


class Via(StrEnum):
    KEYCLOAK = "keycloak"
    PROJECT_TOKEN = "project-token"


@dataclass(frozen=True)
class Principal:
    username: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    # Set for a project token: the caller is that user *inside that project's sandbox* and nothing else.
    project: str | None = None
    via: Via = Via.KEYCLOAK
    source: str = ""

    def __post_init__(self) -> None:
        # One spelling per person (sandkasse.usernames): requester, reviewer and member compare equal
        # whatever case the credential carried.
        object.__setattr__(self, "username", normalise_username(self.username))

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_checker(self) -> bool:
        return Role.CHECKER in self.roles and self.project is None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles and self.project is None
