"""PDF through pypdf: one section per page, encryption and page limits enforced first.

Runs only inside the sandboxed parser child (pypdf has had inputs that loop or balloon).
Owner-password-only PDFs (empty user password) are readable and read; anything else encrypted
is refused. Attachments, forms and JavaScript are ignored, never executed or extracted.
"""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PdfStreamError

from knowledge.parsing.documents import SectionDraft
from knowledge.parsing.errors import CorruptDocument, EncryptedDocument, TooManyPages


def read_pdf(path: Path, *, max_pages: int) -> tuple[list[SectionDraft], dict[str, str]]:
    try:
        reader = PdfReader(path, strict=False)
        _decrypt_if_needed(reader)
        count = len(reader.pages)
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError) as exc:
        raise CorruptDocument(f"pypdf could not open it: {exc}") from None
    if count > max_pages:
        raise TooManyPages(
            f"{count} pages",
            user_message=f"This PDF has {count} pages; the limit is {max_pages}.",
        )
    drafts = [SectionDraft(text=_page_text(reader, index), page=index + 1) for index in range(count)]
    return drafts, {"title": _title(reader), "pages": str(count)}


def _decrypt_if_needed(reader: PdfReader) -> None:
    if not reader.is_encrypted:
        return
    try:
        # Many "protected" PDFs only restrict printing/copying: the user password is empty.
        if reader.decrypt(""):
            return
    except (DependencyError, NotImplementedError) as exc:
        raise EncryptedDocument(f"unsupported encryption: {exc}") from None
    except FileNotDecryptedError:
        pass
    raise EncryptedDocument("needs a user password")


def _page_text(reader: PdfReader, index: int) -> str:
    try:
        return reader.pages[index].extract_text() or ""
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError):
        # One broken page should not lose the rest of the document.
        return ""


def _title(reader: PdfReader) -> str:
    try:
        info = reader.metadata
        return str(info.title).strip() if info and info.title else ""
    except (PdfReadError, ValueError, KeyError, TypeError):
        return ""
