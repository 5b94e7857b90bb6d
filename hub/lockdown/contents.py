"""A contents manager that never sends the browser the content of data files, binary files or
large files, and refuses notebooks whose outputs exceed the policy cap."""

from __future__ import annotations

import json
import os

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError
from traitlets import Int, List, Unicode


def notebook_output_bytes(notebook: dict) -> int:
    """Size of all cell outputs of a notebook model's content, as JSON."""
    total = 0
    for cell in notebook.get("cells", []) or []:
        for output in cell.get("outputs", []) or []:
            total += len(json.dumps(output, separators=(",", ":")))
    return total


class LockdownContentsManager(AsyncLargeFileManager):
    data_mounts = List(
        Unicode(),
        default_value=["/data"],
        help="Mount points whose files are never sent to the browser (list every one: a bind mount elsewhere is not found by realpath).",
    ).tag(config=True)
    max_file_content_bytes = Int(
        1_000_000, help="Non-notebook files larger than this are not sent to the browser."
    ).tag(config=True)
    max_notebook_output_bytes = Int(
        5_000_000, help="Notebooks whose outputs are larger than this are neither opened nor saved."
    ).tag(config=True)

    def _under_data_mount(self, os_path: str) -> bool:
        real = os.path.realpath(os_path)
        for mount in self.data_mounts:
            root = os.path.realpath(mount)
            if real == root or real.startswith(root.rstrip("/") + "/"):
                return True
        return False

    def _refuse(self, path: str, why: str) -> None:
        self.log.warning("sandkasse lockdown: refused content of %s (%s)", path, why)
        raise HTTPError(403, f"{path}: {why}. Results leave the sandbox only through an export request (sandkasse-export).")

    def _check_content_allowed(self, path: str, type: str | None, format: str | None) -> None:
        os_path = self._get_os_path(path.strip("/"))
        if os.path.isdir(os_path):
            return
        if self._under_data_mount(os_path):
            self._refuse(path, "data files cannot be opened in the browser; read them in a notebook")
        is_notebook = type == "notebook" or (type is None and path.endswith(".ipynb"))
        if is_notebook:
            return  # checked on its outputs after loading
        if format == "base64":
            self._refuse(path, "binary file content is not sent to the browser")
        try:
            size = os.path.getsize(os_path)
        except OSError:
            return  # the parent's get() reports the missing file
        if size > self.max_file_content_bytes:
            self._refuse(path, f"file is larger than {self.max_file_content_bytes} bytes")

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        if content:
            self._check_content_allowed(path, type, format)
        model = await super().get(path, content=content, type=type, format=format, require_hash=require_hash)
        if content and model.get("type") == "file" and model.get("format") == "base64":
            # A non-UTF-8 file the caller did not ask for as base64: still binary, still refused.
            self._refuse(path, "binary file content is not sent to the browser")
        if content and model.get("type") == "notebook" and model.get("content") is not None:
            if notebook_output_bytes(model["content"]) > self.max_notebook_output_bytes:
                self._refuse(path, f"notebook outputs are larger than {self.max_notebook_output_bytes} bytes; clear outputs in a kernel")
        return model

    async def save(self, model, path=""):
        if model.get("type") == "notebook" and model.get("content") is not None:
            if notebook_output_bytes(model["content"]) > self.max_notebook_output_bytes:
                self._refuse(path, f"notebook outputs are larger than {self.max_notebook_output_bytes} bytes; clear some outputs before saving")
        return await super().save(model, path)

    async def copy(self, from_path, to_path=None):
        if self._under_data_mount(self._get_os_path(from_path.strip("/"))):
            self._refuse(from_path, "data files cannot be copied through the browser")
        return await super().copy(from_path, to_path)
