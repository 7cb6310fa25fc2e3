"""Safe document parsing: pre-checks in process, parsing in a resource-limited child process.

Public entry point: `parse_document_safely(path, display_name=..., settings=...) -> ParsedDocument`;
every refusal is a `DocumentRejected` subclass with a one-sentence `user_message`.
"""

from knowledge.parsing.documents import ParsedDocument, Section
from knowledge.parsing.errors import DocumentRejected
from knowledge.parsing.filenames import safe_display_name
from knowledge.parsing.sandbox import parse_document_safely

__all__ = ["DocumentRejected", "ParsedDocument", "Section", "parse_document_safely", "safe_display_name"]
