"""Time to summarize a generated 100-page PDF with the local model, in the background worker.

Real components: the sandboxed parser, the sensitivity gate, SQLite with migrations, the bundled
SmolLM2 through llama.cpp, the worker with its progress ticker. No knowledge-base indexing (its
throughput is measured by bench_ingest.py). Prints intake time, job time, map steps, model calls
and the longest gap between two progress updates (goal: ≤ 10 s).

    .venv/bin/python bench/bench_summarize.py [--pages 100]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.governance.db import create_db_engine, migrate
from assistant.pipeline import ModelSet
from assistant.privacy_gate import build_gate_privacy
from assistant.services import build_local_model
from assistant.settings import load_settings
from assistant.uploads.intake import IncomingFile
from assistant.uploads.service import build_upload_service
from assistant.uploads.settings import UploadSettings

TOPICS = [
    "travel expenses",
    "remote work",
    "security badges",
    "parental leave",
    "office hours",
    "training budget",
]


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


async def main(pages: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        settings = load_settings(data_dir=data_dir)
        engine = create_db_engine(settings.governance, data_dir)
        migrate(engine)
        local = build_local_model(settings)
        local.wait_ready()
        privacy = build_gate_privacy(settings)
        uploads = UploadSettings()
        service = build_upload_service(
            settings=uploads, parsing=settings.knowledge.parsing, engine=engine, data_dir=data_dir,
            models=ModelSet(local=local), privacy=privacy, index=None,
        )  # fmt: skip
        path = data_dir / "long.upload"
        path.write_bytes(long_pdf(pages))
        started = time.perf_counter()
        [reply] = await service.accept_files(
            [IncomingFile(path, "handbook.pdf")], owner="bench", thread_id="t"
        )
        intake_s = time.perf_counter() - started
        print(reply.message)
        await service.start()
        job = await service.worker.wait_for(reply.job_id or "", 3600)
        total_s = time.perf_counter() - started
        await service.stop()
        print(job.result_summary)
        print()
        print(f"pages                       {pages}")
        print(f"intake (parse+classify)     {intake_s:.1f} s")
        print(f"upload → summary done       {total_s:.1f} s  (status {job.status})")
        print(f"map steps                   {len(service.store.steps(job.id))}")
        print(f"model calls                 {service.worker.runner.last_calls}")
        print(f"max progress gap            {service.worker.max_progress_gap_s:.1f} s (goal ≤ 10 s)")
        local.close()
        engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=100)
    asyncio.run(main(parser.parse_args().pages))
