"""The document registry: which documents exist, who may see them, and which version is committed.

One row per ingested version of a document. Ingestion writes a `pending` row, then the chunks,
then flips the row to `committed` (and the previous version to `superseded`) in one transaction:
a crash at any point leaves either the old version or the new one committed, never a mix.
`pending` and `superseded` rows are garbage that `KnowledgeStore.recover()` removes at start-up.
The engine is passed in (the app's own database); this module never creates one, nor its table:
the schema changes only through the app's Alembic revisions (`0003_knowledge_registry`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, inspect
from sqlmodel import Field, Session, SQLModel, col, select

DocumentStatus = Literal["pending", "committed", "superseded"]


def _now() -> datetime:
    return datetime.now(UTC)


class KnowledgeDocument(SQLModel, table=True):
    __tablename__ = "knowledge_document"

    version_id: str = Field(primary_key=True)
    doc_id: str = Field(index=True)
    source: str
    title: str
    display_name: str
    kind: str
    sha256: str = Field(index=True)
    size_bytes: int = 0
    owner: str = Field(index=True)
    groups_json: str = "[]"
    public: bool = False
    tier: str = "regulated"
    status: str = Field(default="pending", index=True)
    chunk_count: int = 0
    page_count: int | None = None
    created_at: datetime = Field(default_factory=_now)
    committed_at: datetime | None = None

    @property
    def groups(self) -> list[str]:
        return list(json.loads(self.groups_json))

    @property
    def acl_key(self) -> str:
        """What must match for a re-ingest to be a no-op besides the content hash."""
        return json.dumps([self.owner, sorted(self.groups), self.public])


DatabaseAt = Callable[[Path], Engine]
"""Opens a fresh database under a directory with the app's migrations applied (throwaway ones:
evaluations, tests). The app passes its own; this package never creates a table."""


class RegistryMissing(RuntimeError):
    """The database has no registry table: it was not opened through the app's migrations."""


def document_id_for(source: str) -> str:
    """A stable id for "the same document": derived from where it came from, not its content."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class DocumentRegistry:
    def __init__(self, engine: Engine) -> None:
        if not inspect(engine).has_table(KnowledgeDocument.__tablename__):
            raise RegistryMissing(
                f"no {KnowledgeDocument.__tablename__} table: open the database with the app's "
                "migrations (Alembic revision 0003_knowledge_registry)"
            )
        self.engine = engine

    def committed(self, doc_id: str) -> KnowledgeDocument | None:
        with Session(self.engine, expire_on_commit=False) as session:
            statement = select(KnowledgeDocument).where(
                KnowledgeDocument.doc_id == doc_id, KnowledgeDocument.status == "committed"
            )
            return session.exec(statement).first()

    def add_pending(self, row: KnowledgeDocument) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()

    def commit_version(self, version_id: str, *, chunk_count: int, tier: str) -> None:
        """Make `version_id` the committed version of its document, atomically."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(KnowledgeDocument, version_id)
            if row is None:
                raise LookupError(version_id)
            for old in session.exec(
                select(KnowledgeDocument).where(
                    KnowledgeDocument.doc_id == row.doc_id, KnowledgeDocument.status == "committed"
                )
            ):
                old.status = "superseded"
                session.add(old)
            row.status, row.chunk_count, row.tier, row.committed_at = "committed", chunk_count, tier, _now()
            session.add(row)
            session.commit()

    def mark_superseded(self, doc_id: str) -> list[str]:
        """Retire the committed version of a document (deletion); returns the retired version ids."""
        with Session(self.engine, expire_on_commit=False) as session:
            rows = list(
                session.exec(
                    select(KnowledgeDocument).where(
                        KnowledgeDocument.doc_id == doc_id, KnowledgeDocument.status == "committed"
                    )
                )
            )
            for row in rows:
                row.status = "superseded"
                session.add(row)
            session.commit()
            return [row.version_id for row in rows]

    def garbage(self) -> list[KnowledgeDocument]:
        with Session(self.engine, expire_on_commit=False) as session:
            statement = select(KnowledgeDocument).where(
                col(KnowledgeDocument.status).in_(["pending", "superseded"])
            )
            return list(session.exec(statement))

    def forget(self, version_id: str) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(KnowledgeDocument, version_id)
            if row is not None:
                session.delete(row)
                session.commit()

    def list_committed(self) -> list[KnowledgeDocument]:
        with Session(self.engine, expire_on_commit=False) as session:
            statement = (
                select(KnowledgeDocument)
                .where(KnowledgeDocument.status == "committed")
                .order_by(col(KnowledgeDocument.title))
            )
            return list(session.exec(statement))

    def committed_versions(self) -> set[str]:
        with Session(self.engine, expire_on_commit=False) as session:
            statement = select(KnowledgeDocument.version_id).where(KnowledgeDocument.status == "committed")
            return set(session.exec(statement))

    def fingerprint(self) -> str:
        """Changes whenever the set of committed versions changes (keys the lexical index)."""
        return hashlib.sha256("\n".join(sorted(self.committed_versions())).encode()).hexdigest()
