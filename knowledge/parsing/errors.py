"""Why a document was refused: typed errors, each with one sentence a user can read.

The parser child reports a rejection as a code plus a detail; `rejection_from_code` turns it back
into the same typed error in the parent. `detail` is for logs and may name internals; `user_message`
never does.
"""

from __future__ import annotations


class DocumentRejected(Exception):
    """A file we will not read. `user_message` is one sentence, safe to show in the chat."""

    code = "rejected"
    default_message = "I can't read this file."

    def __init__(self, detail: str = "", *, user_message: str | None = None) -> None:
        self.user_message = user_message or self.default_message
        self.detail = detail or self.user_message
        super().__init__(self.detail)


class UnsupportedType(DocumentRejected):
    code = "unsupported_type"
    default_message = "I can only read PDF, Word (.docx), Markdown, plain-text and HTML files."


class TypeMismatch(DocumentRejected):
    code = "type_mismatch"
    default_message = "This file's contents don't match its name, so I won't open it."


class FileTooLarge(DocumentRejected):
    code = "too_large"
    default_message = "This file is larger than the upload limit."


class EmptyDocument(DocumentRejected):
    code = "empty"
    default_message = "This file is empty."


class NoTextFound(DocumentRejected):
    code = "no_text"
    default_message = "I found no readable text in this file (it may be a scan or contain only images)."


class EncryptedDocument(DocumentRejected):
    code = "encrypted"
    default_message = "This PDF is password-protected, so I can't read it."


class TooManyPages(DocumentRejected):
    code = "too_many_pages"
    default_message = "This document has more pages than I can process."


class TooMuchText(DocumentRejected):
    code = "too_much_text"
    default_message = "This document contains more text than I can process."


class SuspiciousArchive(DocumentRejected):
    code = "suspicious_archive"
    default_message = "This Word file expands to far more data than its size suggests, so I won't open it."


class UnsafeXml(DocumentRejected):
    code = "unsafe_xml"
    default_message = "This Word file contains XML entity declarations, which I refuse for safety."


class CorruptDocument(DocumentRejected):
    code = "corrupt"
    default_message = "This file seems to be damaged and I couldn't read it."


class ParseTimeout(DocumentRejected):
    code = "timeout"
    default_message = "Reading this file took too long, so I stopped."


class ParseResourceLimit(DocumentRejected):
    code = "resource_limit"
    default_message = "Reading this file needed more memory than allowed, so I stopped."


_BY_CODE: dict[str, type[DocumentRejected]] = {
    cls.code: cls
    for cls in (
        UnsupportedType,
        TypeMismatch,
        FileTooLarge,
        EmptyDocument,
        NoTextFound,
        EncryptedDocument,
        TooManyPages,
        TooMuchText,
        SuspiciousArchive,
        UnsafeXml,
        CorruptDocument,
        ParseTimeout,
        ParseResourceLimit,
    )
}


def rejection_from_code(code: str, detail: str, user_message: str | None) -> DocumentRejected:
    """Rebuild the typed error a parser child reported (unknown codes become `CorruptDocument`)."""
    cls = _BY_CODE.get(code, CorruptDocument)
    return cls(detail, user_message=user_message)
