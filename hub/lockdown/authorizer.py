"""Refuses the request handlers that hand files to the browser as downloads or rendered pages."""

from __future__ import annotations

from jupyter_server.auth.authorizer import AllowAllAuthorizer
from jupyter_server.files.handlers import FilesHandler
from jupyter_server.view.handlers import ViewHandler

# nbconvert turns any notebook (and so any data printed into it) into a downloadable document.
REFUSED_RESOURCES = frozenset({"nbconvert"})
# /files/ is also switched off in the contents manager; refusing it here too means a later
# jupyter_server that re-adds the route still cannot serve it.
REFUSED_HANDLERS = (FilesHandler, ViewHandler)


class LockdownAuthorizer(AllowAllAuthorizer):
    """Everything an authenticated researcher may normally do, except the download side doors."""

    def is_authorized(self, handler, user, action: str, resource: str) -> bool:
        if resource in REFUSED_RESOURCES or isinstance(handler, REFUSED_HANDLERS):
            self.log.warning(
                "sandkasse lockdown: refused %s %s (%s on %s)", handler.request.method, handler.request.path, action, resource
            )
            return False
        return True
