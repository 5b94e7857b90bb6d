"""Call points for the parts of an application that other modules compute: the automatic
pre-assessment (DPIA screening, minimisation, k as asked and as suggested), the DPIA draft and the
synthetic twin. Until those are wired in, the pre-assessment is "not computed yet" and the pages say so.

Wire them by assigning the module attributes (e.g. in ``provisioning/applications/__init__.py``):
``hooks.assess = assessment.assess``; each receives the session and the
:class:`~provisioning.applications.models.Application`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

NOT_COMPUTED = "not computed yet"

# (session, application) -> the pre-assessment (aggregate figures only), or None while not computed
assess: Callable[[Session, Any], Any | None] = lambda session, application: None
# (session, application) -> the DPIA draft as Markdown, or None
dpia_markdown: Callable[[Session, Any], str | None] = lambda session, application: None
# (session, application) -> None; runs in the submit transaction (e.g. to build the synthetic twin)
on_submitted: Callable[[Session, Any], None] = lambda session, application: None


def assessment_of(session: Session, application: Any) -> Any | None:
    """The pre-assessment the DPO decides on; ``None`` means "not computed yet"."""
    return assess(session, application)
