"""Upload → summary → follow-up retrieval, end to end with real components.

Real: the sandboxed parser, the sensitivity gate (Presidio + policy), the knowledge base (ONNX
embedder, Chroma in a temp dir, SQLite), the local SmolLM2 through llama.cpp, and a loopback
OpenAI-compatible server behind a recording proxy standing in for the hosted model. The PDF is
generated here with reportlab; page 3 carries regulated canaries that must never reach the proxy.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.governance.db import create_db_engine, migrate
from assistant.governance.settings import GovernanceSettings
from assistant.identity import Principal
from assistant.pipeline import ModelSet
from assistant.privacy_gate import GatePrivacy, build_gate_privacy
from assistant.settings import Settings, load_settings
from assistant.uploads.intake import IncomingFile
from assistant.uploads.service import build_upload_service
from assistant.uploads.settings import UploadSettings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.testing import shared_onnx_embedder
from models.hosted import HostedModel
from tests.support.servers import SERVER_MODEL_ALIAS

pytest_plugins = ["tests.support.fixtures"]
pytestmark = pytest.mark.slow

PAGES = [
    "The Aurora solar farm near the river will produce forty megawatts of power. "
    "Construction of the solar farm starts in March with forty workers on site.",
    "Visitors must wear a helmet at all times on the construction site. "
    "The site office is open from eight in the morning to five in the afternoon.",
    "Medical incident report: patient Zebulon Quartermaine, SSN 078-05-1120, MRN 48213377, "
    "was treated for a broken wrist after a fall on the site.",
]
CANARIES = ("Quartermaine", "078-05-1120", "48213377")


def three_page_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for text in PAGES:
        y = 780
        words, line = text.split(), ""
        for word in words:
            if len(line) + len(word) > 80:
                pdf.drawString(60, y, line)
                y, line = y - 16, ""
            line = f"{line} {word}".strip()
        pdf.drawString(60, y, line)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def gate_privacy() -> Iterator[GatePrivacy]:
    privacy = build_gate_privacy(Settings())
    yield privacy
    privacy.gate.close()


async def test_upload_summary_and_follow_up_with_per_page_routing(
    data_dir: Path, tmp_path: Path, local_llama_model, hosted_settings, hosted_proxy, gate_privacy
) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=data_dir)
    engine = create_db_engine(GovernanceSettings(), data_dir)
    migrate(engine)
    kb = KnowledgeBase(
        settings,
        engine,
        lambda text: gate_privacy.assess(text, source="chunk").tier,
        embedder=shared_onnx_embedder(),
    )
    hosted = HostedModel(SERVER_MODEL_ALIAS, hosted_settings, count_tokens=local_llama_model.count_tokens)
    # One map step per page (no batching) and two hosted steps at a time: the public pages'
    # steps reach the proxy concurrently while the regulated page's runs on the local model.
    uploads = UploadSettings(
        map_input_tokens=350, map_answer_tokens=96, reduce_answer_tokens=80, structured_reasks=0,
        progress_interval_s=1.0, poll_interval_s=0.1, batch_map_tokens=0, hosted_map_concurrency=2,
    )  # fmt: skip
    service = build_upload_service(
        settings=uploads, parsing=settings.knowledge.parsing, engine=engine, data_dir=data_dir,
        models=ModelSet(local=local_llama_model, hosted=[hosted]), privacy=gate_privacy, index=kb,
    )  # fmt: skip
    path = tmp_path / "upload.bin"
    path.write_bytes(three_page_pdf())

    [reply] = await service.accept_files(
        [IncomingFile(path, "site-report.pdf")], owner="alice", thread_id="t1"
    )
    assert reply.accepted, reply.message
    assert reply.pages == 3 and reply.tier is not None and reply.tier.value == "regulated"
    await service.start()
    try:
        job = await service.worker.wait_for(reply.job_id or "", 280)
    finally:
        await service.stop()
    assert job.status == "done", job.error
    summary = job.result_summary or ""
    print(summary)
    cited = {ref for ref in ("p. 1", "p. 2", "p. 3") if f"[{ref}]" in summary}
    assert cited and "[p. 4]" not in summary and "model call" in summary

    steps = service.store.steps(job.id)
    regulated = [s for s in steps if s["tier"] == "regulated"]
    assert regulated and all(s["written_by"] in ("local", "quote") for s in regulated)
    wire = "\n".join(hosted_proxy.requests)
    assert not any(canary in wire for canary in CANARIES)
    if any(s["tier"] != "regulated" for s in steps):
        assert hosted_proxy.chat_exchanges, (
            "public/internal pages should have been summarized by the hosted model"
        )

    # Follow-up: the upload is alice's private document, found with its page; bob never sees it.
    hits = kb.search("When is the site office open?", Principal(user_id="alice"), k=3)
    assert hits and hits[0].doc_id == job.document_id and hits[0].page == 2
    assert "site office is open" in " ".join(hits[0].text.split())
    assert all(
        hit.doc_id != job.document_id for hit in kb.search("site office open", Principal(user_id="bob"), k=5)
    )
    engine.dispose()
