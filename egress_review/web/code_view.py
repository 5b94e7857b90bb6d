""""View code" on the request page: the cells of the notebook a request carries, for those who may
read its content (:func:`egress_review.permissions.may_read_content`), every read audited by the
caller. Only the cells' text is shown (the template escapes it, the page runs no script); outputs are
counted, never rendered: they can hold HTML and script, and rows of data."""

from __future__ import annotations

from dataclasses import dataclass, field

from egress_review.models import ReleaseRequest
from egress_review.notebooks.code import CodeCell, NotNotebook, cells
from egress_review.notebooks.runs import notebook_of


@dataclass
class CodeView:
    file_id: str
    version_id: str
    name: str
    cells: list[CodeCell] = field(default_factory=list)
    too_large: bool = False
    unreadable: bool = False


def code_view(store, req: ReleaseRequest, max_bytes: int) -> CodeView | None:
    """The request's notebook as cells (None: it carries none). The caller has checked the reader."""
    nb = notebook_of(req)
    if nb is None:
        return None
    f, v = nb
    view = CodeView(f.id, v.id, f.name)
    if v.size > max_bytes:
        view.too_large = True
        return view
    try:
        view.cells = cells(b"".join(store.read(v.blob, v.id, v.wrapped_key)))
    except NotNotebook:
        view.unreadable = True
    return view
