"""The parsed upload a job works from, staged on local disk so a restarted app can resume it.

One directory per job under `<data_dir>/uploads/<job id>/` (the job id is ours, never the uploaded
file name, so no user input ever becomes a path). It holds the parsed text and the per-section
tiers known so far; it is removed when the job ends. The text is the uploader's document and stays
on this machine, like the knowledge base's copy of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from knowledge.parsing.documents import ParsedDocument
from routing.tiers import Tier, highest

_JOB_ID = re.compile(r"[0-9a-f]{32}")


class StagedDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    parsed: ParsedDocument
    # One entry per section; None where the gate has not looked yet.
    section_tiers: tuple[Tier | None, ...]
    # The tier of the file name, title and other metadata (they appear in prompts and in the UI).
    meta_tier: Tier

    @property
    def fully_classified(self) -> bool:
        return all(tier is not None for tier in self.section_tiers)

    @property
    def tier_so_far(self) -> Tier:
        return highest(self.meta_tier, *(t for t in self.section_tiers if t is not None))


class Staging:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, job_id: str) -> Path:
        if not _JOB_ID.fullmatch(job_id):
            raise ValueError("not a job id")
        return self.root / job_id

    def save(self, job_id: str, staged: StagedDocument) -> None:
        folder = self._dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / "document.json.tmp"
        temporary.write_text(staged.model_dump_json(), encoding="utf-8")
        # Atomic replace: a crash mid-write leaves the previous version, never half a file.
        os.replace(temporary, folder / "document.json")

    def load(self, job_id: str) -> StagedDocument | None:
        path = self._dir(job_id) / "document.json"
        try:
            return StagedDocument.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def remove(self, job_id: str) -> None:
        shutil.rmtree(self._dir(job_id), ignore_errors=True)
