"""Opening a file the browser named, for JupyterLab's "Request release" (``hub.request_release``).

The browser names files by their path relative to the Jupyter root; that name must never reach past
the researcher's home: not by ``..``, an absolute path, a link planted in the home (``ln -s /data x``),
a bind mount inside it, or a link swapped in between the check and the open. Standard library only
(the rule of ``egress_review.client``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

__all__ = ["OutsideHome", "HomeFile", "open_in_home"]


class OutsideHome(ValueError):
    """The name does not lead to a regular file inside the home; the message says so in plain words."""


class HomeFile:
    """An open regular file inside the home: its name relative to the home, the open file and its size."""

    def __init__(self, relative: str, fh: BinaryIO, size: int) -> None:
        self.relative, self.fh, self.size = relative, fh, size

    @property
    def name(self) -> str:
        return PurePosixPath(self.relative).name

    def close(self) -> None:
        self.fh.close()


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def open_in_home(home: str | os.PathLike[str], name: str, *, base: str | os.PathLike[str] | None = None,
                 data_mounts: Iterable[str] = ()) -> HomeFile:
    """Open ``name`` (relative to ``base``, the Jupyter root, which defaults to ``home``) for reading.

    Raises :class:`OutsideHome` unless it is a regular file whose real path lies inside ``home``, on
    the home's own file system, and under none of ``data_mounts``."""
    shown = name
    if not name or "\0" in name or PurePosixPath(name).is_absolute():
        raise OutsideHome(f"{shown!r}: give a path inside your home folder")
    root = os.path.realpath(home)
    real = os.path.realpath(os.path.join(os.path.realpath(base or home), name))
    if not _inside(real, root) or real == root:
        raise OutsideHome(f"{shown}: only files inside your home folder can be sent for release")
    for mount in data_mounts:
        if mount and _inside(real, os.path.realpath(mount)):
            raise OutsideHome(f"{shown}: the project's data cannot be sent for release")
    try:
        # O_NOFOLLOW: the last component cannot have become a link since realpath; O_NONBLOCK: a FIFO
        # planted under the name does not hang the server (it is refused below).
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise OutsideHome(f"{shown}: {exc.strerror or 'cannot be opened'}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OutsideHome(f"{shown}: not a regular file")
        if st.st_dev != os.stat(root).st_dev:
            raise OutsideHome(f"{shown}: on another file system than your home folder")
        # A directory of the path swapped for a link after realpath: what was opened is checked again.
        proc = f"/proc/self/fd/{fd}"
        if os.path.exists(proc) and not _inside(os.path.realpath(proc), root):
            raise OutsideHome(f"{shown}: only files inside your home folder can be sent for release")
        relative = str(PurePosixPath(Path(real).relative_to(root)))
        return HomeFile(relative, os.fdopen(fd, "rb"), st.st_size)
    except BaseException:
        os.close(fd)
        raise
