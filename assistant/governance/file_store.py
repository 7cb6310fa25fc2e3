"""Chainlit element storage on the local filesystem, under `data_dir/files`.

Object keys are built by our data layer (`<owner>/<element id>`), never taken from a client;
every key is still validated segment by segment and resolved inside the root, so no key can
escape it. Read URLs point at the ownership-checked route `/governance/files/<element id>`,
never at the file itself.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from chainlit.data.storage_clients.base import BaseStorageClient

from assistant.executors import run_io

SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")
FILES_ROUTE = "/governance/files"


class UnsafeObjectKey(ValueError):
    pass


class LocalFileStorage(BaseStorageClient):
    def __init__(self, root: Path, url_prefix: str = FILES_ROUTE) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._url_prefix = url_prefix.rstrip("/")

    def path_for(self, object_key: str) -> Path:
        segments = object_key.split("/")
        if not segments or any(not SEGMENT.fullmatch(part) or part.strip(".") == "" for part in segments):
            raise UnsafeObjectKey(f"refused object key {object_key!r}")
        path = (self.root / Path(*segments)).resolve()
        if not path.is_relative_to(self.root):
            raise UnsafeObjectKey(f"refused object key {object_key!r}")
        return path

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        path = self.path_for(object_key)
        payload = data.encode("utf-8") if isinstance(data, str) else data
        if path.exists() and not overwrite:
            raise FileExistsError(object_key)
        await run_io(_write_atomically, path, payload)
        return {"object_key": object_key, "url": await self.get_read_url(object_key)}

    async def delete_file(self, object_key: str) -> bool:
        path = self.path_for(object_key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    async def get_read_url(self, object_key: str) -> str:
        # The last key segment is the element id: the route checks the thread's owner before serving.
        return f"{self._url_prefix}/{object_key.rsplit('/', 1)[-1]}"

    def read_bytes(self, object_key: str) -> bytes:
        return self.path_for(object_key).read_bytes()

    async def close(self) -> None:
        return None


def _write_atomically(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
