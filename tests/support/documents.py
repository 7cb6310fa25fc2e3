"""Building test documents in memory, hostile ones included (never committed as big files)."""

from __future__ import annotations

import io
import zipfile
import zlib
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


def hanging_pdf() -> bytes:
    """29 kB that expand to a content stream pypdf spends ~25 s of CPU on (then gives up)."""
    stream = zlib.compress(b"BT /F1 1 Tf 0 0 Td (a) Tj ET\n" * 400_000, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def many_page_pdf(pages: int) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for number in range(pages):
        pdf.drawString(72, 720, f"Page {number + 1}.")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()
