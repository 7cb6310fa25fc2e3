"""Upload intake against hostile files: the real sandboxed parser, real SQLite, a scripted gate.

Every hostile class gets a one-sentence reason, bounded by the parser's own clocks, while another
coroutine keeps being served (the event loop is never blocked by parsing). Hostile files are
generated here, not committed; encrypted PDFs come from tests/data/docs (see its PROVENANCE.md).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from assistant.governance.db import create_db_engine, migrate
from assistant.governance.settings import GovernanceSettings
from assistant.uploads.intake import IncomingFile, UploadIntake
from assistant.uploads.jobs import JobStore
from assistant.uploads.service import UploadService
from assistant.uploads.settings import UploadSettings
from assistant.uploads.staging import Staging
from assistant.uploads.worker import SummaryWorker
from knowledge.settings import ParsingSettings
from routing.tiers import Tier
from tests.support.documents import docx_bytes, hanging_pdf, many_page_pdf, replace_part
from tests.test_summarize_logic import KeywordPrivacy

DOCS = Path(__file__).parent / "data" / "docs"


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>"
)


def hostile_files(folder: Path) -> dict[str, tuple[str, Path]]:
    """class → (the name the browser claimed, the server-side path)."""

    def put(key: str, data: bytes) -> Path:
        path = folder / f"{key}.upload"  # Chainlit stores uploads under its own names too
        path.write_bytes(data)
        return path

    oversize = folder / "oversize.upload"
    with oversize.open("wb") as handle:
        handle.truncate(21 * 1024 * 1024)  # sparse: 21 MB without writing them
    memo = (DOCS / "fake-memo.pdf").read_bytes()
    return {
        "unsupported_type": ("setup.exe", put("exe", b"MZ\x90\x00" + b"\0" * 100)),
        "disguised_type": ("report.pdf", put("fake", b"#!/bin/sh\nrm -rf /\n")),
        "too_large": ("big.txt", oversize),
        "empty": ("empty.pdf", put("empty", b"")),
        "encrypted": ("password.pdf", DOCS / "password.pdf"),
        "encrypted_aes256": ("crazyones.pdf", DOCS / "crazyones-encrypted-256.pdf"),
        "corrupt": ("broken.pdf", put("broken", memo[:400] + bytes(range(256)) * 20)),
        "hangs_pypdf": ("slow.pdf", put("slow", hanging_pdf())),
        "zip_bomb": (
            "bomb.docx",
            put("bomb", replace_part(docx_bytes(), "word/media/pad.bin", b"\0" * 30_000_000)),
        ),
        "xml_entities": (
            "laughs.docx",
            put("laughs", replace_part(docx_bytes(), "word/document.xml", LAUGHS)),
        ),
        "too_many_pages": ("long.pdf", put("long", many_page_pdf(400))),
    }


@pytest.fixture
def service(data_dir: Path):  # type: ignore[no-untyped-def]
    engine = create_db_engine(GovernanceSettings(), data_dir)
    migrate(engine)
    settings = UploadSettings(parse_timeout_s=10.0, max_parallel_parses=3)
    store, staging = JobStore(engine), Staging(data_dir / "uploads")
    intake = UploadIntake(
        settings=settings, parsing=ParsingSettings(), privacy=KeywordPrivacy(), store=store, staging=staging
    )
    worker = SummaryWorker(store, runner=None, staging=staging, settings=settings)  # type: ignore[arg-type]
    yield UploadService(intake=intake, store=store, worker=worker)
    engine.dispose()


def one_sentence(message: str) -> bool:
    reason = message.split(": ", 1)[1]
    return reason.endswith(".") and reason.count(". ") == 0 and len(reason) < 200


async def test_every_hostile_class_is_refused_with_its_reason_while_others_are_served(
    service, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    files = hostile_files(tmp_path)
    ticks: list[float] = []
    stop = asyncio.Event()

    async def other_user() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)

    async def upload(name: str, path: Path) -> object:
        replies = await service.accept_files([IncomingFile(path, name)], owner="alice", thread_id="t1")
        return replies[0]

    served = asyncio.create_task(other_user())
    results = await asyncio.gather(*(upload(name, path) for name, path in files.values()))
    stop.set()
    await served
    codes = {}
    for key, reply in zip(files, results, strict=True):
        assert not reply.accepted, key  # type: ignore[attr-defined]
        assert one_sentence(reply.message), (key, reply.message)  # type: ignore[attr-defined]
        codes[key] = reply.code  # type: ignore[attr-defined]
    # pypdf either runs into the wall-clock limit or gives up on its own first (a quiet machine):
    # both are a bounded refusal with a reason.
    assert codes["hangs_pypdf"] in ("timeout", "corrupt") and codes["zip_bomb"] == "suspicious_archive"
    assert codes["xml_entities"] == "unsafe_xml" and codes["too_many_pages"] == "too_many_pages"
    assert codes["encrypted"] == codes["encrypted_aes256"] == "encrypted"
    assert codes["too_large"] == "too_large" and "20 MB" in results[2].message  # type: ignore[attr-defined]
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 20 and max(gaps) < 2.0  # the loop kept serving the other coroutine
    assert service.store.claim_next() is None  # nothing hostile was queued


@pytest.mark.parametrize(
    ("claimed", "shown"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\eve\\notes.txt", "notes.txt"),
        ("invoice\u202etxt.exe.txt", "invoicetxt.exe.txt"),
        ("na\x00me.txt", "name.txt"),
        ("a" * 10_000 + ".txt", None),
    ],
)
async def test_odd_file_names_are_sanitized_and_never_used_as_paths(
    service, tmp_path: Path, claimed: str, shown: str | None
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "upload.bin"
    path.write_text("The cafeteria opens at eight and closes at three on Fridays.")
    [reply] = await service.accept_files([IncomingFile(path, claimed)], owner="alice", thread_id="t1")
    assert reply.accepted and reply.job_id
    if shown is None:
        assert len(reply.display_name) <= 120 and reply.display_name.endswith(".txt")
    else:
        assert reply.display_name == shown
    assert reply.message.startswith("Got it: ") and "1 section," in reply.message
    staged_dirs = [p.name for p in service.intake.staging.root.iterdir()]
    assert staged_dirs == [reply.job_id]  # the job id, never the client's name, names the folder


async def test_file_name_and_metadata_are_classified_too(service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "upload.bin"
    path.write_text("The cafeteria opens at eight and closes at three on Fridays.")
    [reply] = await service.accept_files(
        [IncomingFile(path, "Patient SSN list.txt")], owner="alice", thread_id="t1"
    )
    assert reply.accepted and reply.tier == Tier.REGULATED and "regulated" in reply.message


async def test_got_it_message_names_pages_and_tier(service) -> None:  # type: ignore[no-untyped-def]
    [reply] = await service.accept_files(
        [IncomingFile(DOCS / "fake-memo.pdf", "memo.pdf")], owner="alice", thread_id="t1"
    )
    assert reply.accepted and reply.pages == 1
    assert reply.message.startswith("Got it: memo\\.pdf, 1 page,") and reply.message.endswith("summarizing…")
    job = service.store.get(reply.job_id)
    assert job is not None and job.status == "queued" and job.owner == "alice"


async def test_more_files_than_allowed_are_refused_individually(service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = []
    for number in range(4):
        path = tmp_path / f"f{number}.bin"
        path.write_text(f"Note number {number} about the weekly team meeting schedule.")
        files.append(IncomingFile(path, f"note{number}.txt"))
    replies = await service.accept_files(files, owner="alice", thread_id="t1")
    assert [r.accepted for r in replies] == [True, True, True, False]
    assert replies[3].code == "too_many_files" and one_sentence(replies[3].message)
