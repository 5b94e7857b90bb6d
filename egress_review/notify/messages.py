"""The text of each notification. Messages name the request and link to it; they never carry a file,
a vote or a checker's comment (the page behind the link applies the usual permissions)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def _link(base_url: str, request_id: str) -> str:
    return f"{base_url.rstrip('/')}/requests/{request_id}" if base_url else f"request {request_id}"


def waiting(project: str, request_id: str, title: str, base_url: str) -> Message:
    return Message(f"[Sandkasse] Release request waiting for review ({project})",
                   f"A release request of project {project} ({title or 'untitled'}) waits for output checking.\n"
                   f"{_link(base_url, request_id)}\n")


def second_review(project: str, request_id: str, title: str, base_url: str) -> Message:
    # on purpose without the first checker's name or decision: the second review stays independent
    return Message(f"[Sandkasse] A second review is needed ({project})",
                   f"One output checker has reviewed a release request of project {project} "
                   f"({title or 'untitled'}); it needs an independent second review.\n{_link(base_url, request_id)}\n")


DECISIONS = {
    "returned": "was returned to you for changes",
    "rejected": "was rejected",
    "released": "was released",
}


def decided(state: str, project: str, request_id: str, title: str, base_url: str) -> Message:
    return Message(f"[Sandkasse] Your release request {state} ({project})",
                   f"Your release request of project {project} ({title or 'untitled'}) {DECISIONS[state]}.\n"
                   f"{_link(base_url, request_id)}\n")


def digest(parts: list[Message]) -> Message:
    return Message(f"[Sandkasse] {len(parts)} notices", "\n".join(f"- {m.subject}\n  {m.body.strip()}" for m in parts))
