"""Upload → summary time per page, before and after batching and concurrent hosted map steps.

Real components: the sandboxed parser, the sensitivity gate, SQLite with migrations, the local
model through llama.cpp (the configured profile; `CONFIDANTE_MODELS__LOCAL__PROFILE=small` for
SmolLM2), the worker with its progress ticker. No knowledge-base indexing (bench_ingest.py
measures it). Two routes, each run twice on the same generated PDF in one process:

- local:  no hosted model, every map step on the local worker;
- hosted: a *simulated* hosted model (a scripted reply after a fixed `--hosted-latency`, standing
  in for the network round trip; no real endpoint is reachable here). It measures how the map
  steps are scheduled, not a provider's speed.

"before" is the old plan (one map step per share of the document, one step at a time);
"after" is the default settings (batching up to `batch_map_tokens`, hosted steps concurrently).
Prints seconds per page, map steps, model calls and the longest gap between progress updates.

    .venv/bin/python bench/bench_summarize.py [--pages 8] [--hosted-pages 40] [--hosted-latency 2]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.governance.db import create_db_engine, migrate
from assistant.pipeline import ModelSet
from assistant.privacy import Privacy
from assistant.privacy_gate import build_gate_privacy
from assistant.services import build_local_model
from assistant.settings import Settings, load_settings
from assistant.uploads.intake import IncomingFile
from assistant.uploads.service import build_upload_service
from assistant.uploads.settings import UploadSettings
from models.base import ChatModel, ChatRequest
from models.fakes import FunctionModel

TOPICS = [
    "travel expenses",
    "remote work",
    "security badges",
    "parental leave",
    "office hours",
    "training budget",
]
VARIANTS = {
    "before": UploadSettings(batch_map_tokens=0, hosted_map_concurrency=1),
    "after": UploadSettings(),
}


def long_pdf(pages: int) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for number in range(1, pages + 1):
        topic = TOPICS[number % len(TOPICS)]
        lines = [
            f"Section {number}: {topic}.",
            f"This page explains the company rules about {topic} for all employees.",
            f"Requests about {topic} are approved by the team lead within {number % 9 + 1} working days.",
            "Exceptions need the written agreement of the department head.",
        ]
        for row, line in enumerate(lines):
            pdf.drawString(60, 780 - 18 * row, line)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def simulated_hosted_reply(request: ChatRequest) -> str:
    """A well-behaved hosted model: the first sentence under each [ref] as a JSON point."""
    prompt = request.messages[-1].content
    if "<document>" not in prompt:
        return "The document sets out company rules and who approves requests."
    body = prompt.split("<document>")[1].split("</document>")[0]
    points = []
    for block in body.strip().split("\n\n")[:3]:
        header, _, text = block.partition("\n")
        points.append({"text": text.split(". ")[0].rstrip(".") + ".", "ref": header.strip("[]")})
    return json.dumps({"points": points})


async def one_run(
    settings: Settings, uploads: UploadSettings, models: ModelSet, privacy: Privacy, pdf: bytes
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        engine = create_db_engine(settings.governance, data_dir)
        migrate(engine)
        service = build_upload_service(
            settings=uploads, parsing=settings.knowledge.parsing, engine=engine, data_dir=data_dir,
            models=models, privacy=privacy, index=None,
        )  # fmt: skip
        path = data_dir / "long.upload"
        path.write_bytes(pdf)
        incoming = [IncomingFile(path, "handbook.pdf")]
        [reply] = await service.accept_files(incoming, owner="bench", thread_id="t")
        started = time.perf_counter()
        await service.start()
        job = await service.worker.wait_for(reply.job_id or "", 3600)
        job_s = time.perf_counter() - started
        await service.stop()
        figures = {
            "job_s": job_s,
            "done": float(job.status == "done"),
            "steps": float(len(service.store.steps(job.id))),
            "calls": float(service.worker.runner.last_calls),
            "gap_s": service.worker.max_progress_gap_s,
        }
        engine.dispose()
        return figures


def show(route: str, variant: str, pages: int, f: dict[str, float]) -> None:
    print(
        f"{route:<8} {variant:<7} {pages:>5} {f['steps']:>9.0f} {f['calls']:>6.0f} "
        f"{f['job_s']:>8.1f} {f['job_s'] / pages:>7.2f} {f['gap_s']:>7.1f}  {'ok' if f['done'] else 'FAILED'}"
    )


async def main(pages: int, hosted_pages: int, latency: float, routes: list[str]) -> None:
    # The configured data directory (CONFIDANTE_DATA_DIR) only for the assembled model file: each
    # run gets its own temporary database and staging area.
    settings = load_settings()
    local: ChatModel = build_local_model(settings)
    local.wait_ready()  # type: ignore[attr-defined]
    privacy = build_gate_privacy(settings)
    hosted = FunctionModel(simulated_hosted_reply, name="simulated-hosted", kind="hosted", delay_s=latency)
    plans = {
        "local": (ModelSet(local=local), pages),
        "hosted": (ModelSet(local=local, hosted=[hosted]), hosted_pages),
    }
    print(f"local model {local.name}; simulated hosted latency {latency:.1f} s per call")
    print("route    variant pages map-steps  calls  job (s) s/page  gap (s)")
    for route in routes:
        models, count = plans[route]
        pdf = long_pdf(count)
        for variant, uploads in VARIANTS.items():
            show(route, variant, count, await one_run(settings, uploads, models, privacy, pdf))
    local.close()  # type: ignore[attr-defined]


if __name__ == "__main__":
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--pages", type=int, default=8, help="pages of the PDF on the local route")
    parser.add_argument("--hosted-pages", type=int, default=40, help="pages on the hosted route")
    parser.add_argument("--hosted-latency", type=float, default=2.0, help="simulated seconds per hosted call")
    parser.add_argument("--route", choices=["local", "hosted"], action="append", help="default: both")
    args = parser.parse_args()
    asyncio.run(main(args.pages, args.hosted_pages, args.hosted_latency, args.route or ["local", "hosted"]))
