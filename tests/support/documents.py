"""Building test documents in memory, hostile ones included (never committed as big files)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any


def docx_bytes(build: Callable[[Any], None] | str = "hello") -> bytes:
    """A real DOCX: `build(document)` fills it, or a string becomes its one paragraph."""
    import docx

    document = docx.Document()
    if isinstance(build, str):
        document.add_paragraph(build)
    else:
        build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def replace_part(docx_data: bytes, name: str, content: bytes) -> bytes:
    """The same zip with part `name` replaced (or added): zip bombs, entity bombs, broken XML."""
    source = zipfile.ZipFile(io.BytesIO(docx_data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, content if item.filename == name else source.read(item.filename))
        if name not in source.namelist():
            target.writestr(name, content)
    return out.getvalue()
