"""The text of each notification. Messages name the project and the request id and link to it; they
never carry a file, a vote, a checker's comment or the request's title (it is written from inside the
sandbox and leaves only with the outputs; mail leaves the TRE unreviewed). The page behind the link
applies the usual permissions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def _link(base_url: str, request_id: str) -> str:
    return f"{base_url.rstrip('/')}/requests/{request_id}" if base_url else f"request {request_id}"


def waiting(project: str, request_id: str, base_url: str) -> Message:
    return Message(f"[Sandkasse] Release request waiting for review ({project})",
                   f"Release request {request_id[:8]} of project {project} waits for output checking.\n"
                   f"{_link(base_url, request_id)}\n")


def second_review(project: str, request_id: str, base_url: str) -> Message:
    # on purpose without the first checker's name or decision: the second review stays independent
    return Message(f"[Sandkasse] A second review is needed ({project})",
                   f"One output checker has reviewed release request {request_id[:8]} of project {project}; "
                   f"it needs an independent second review.\n{_link(base_url, request_id)}\n")


DECISIONS = {
    "returned": "was returned to you for changes",
    "rejected": "was rejected",
    "released": "was released",
}


def decided(state: str, project: str, request_id: str, base_url: str) -> Message:
    return Message(f"[Sandkasse] Your release request {state} ({project})",
                   f"Your release request {request_id[:8]} of project {project} {DECISIONS[state]}.\n"
                   f"{_link(base_url, request_id)}\n")


def digest(parts: list[Message]) -> Message:
    return Message(f"[Sandkasse] {len(parts)} notices", "\n".join(f"- {m.subject}\n  {m.body.strip()}" for m in parts))
