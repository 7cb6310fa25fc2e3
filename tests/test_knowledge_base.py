"""The knowledge base end to end with real components: parsers, ONNX embedder, Chroma, SQLite, bm25s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.identity import Principal
from assistant.settings import load_settings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.testing import shared_onnx_embedder
from routing.tiers import Tier

REPO = Path(__file__).resolve().parent.parent


def _kb(data_dir: Path, classify=lambda _t: Tier.INTERNAL, **knowledge) -> KnowledgeBase:
    settings = (
        load_settings(data_dir=data_dir, knowledge=knowledge)
        if knowledge
        else load_settings(data_dir=data_dir)
    )
    engine = open_database(GovernanceSettings(), data_dir)
    return KnowledgeBase(settings, engine, classify, embedder=shared_onnx_embedder())


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).strip() + "\n")
    return path


ALICE = Principal(user_id="alice", groups=frozenset({"hr"}))
BOB = Principal(user_id="bob", groups=frozenset({"eng"}))
NOBODY = Principal(user_id="carol")
ADMIN = Principal(user_id="root", role="admin", groups=frozenset({"eng"}))


def test_ingest_noop_replace_delete(data_dir, tmp_path):
    kb = _kb(data_dir)
    doc = _write(
        tmp_path / "handbook.md", "# Handbook\n\nThe office opens at 8 am.\n\nLunch is served at noon."
    )
    first = kb.ingest_file(doc, owner="admin", public=True)
    assert first.status == "added" and first.chunks >= 1 and first.tier == "internal"
    assert kb.ingest_file(doc, owner="admin", public=True).status == "unchanged"
    assert kb.search("When does the office open?", NOBODY)[0].doc_id == first.doc_id

    _write(doc, "# Handbook\n\nThe office opens at 9 am since March.\n\nLunch is served at noon.")
    second = kb.ingest_file(doc, owner="admin", public=True)
    assert second.status == "replaced" and second.doc_id == first.doc_id
    texts = " ".join(c.text for c in kb.search("office opens", NOBODY, k=10))
    assert "9 am" in texts and "8 am" not in texts
    assert len(kb.list_documents(NOBODY)) == 1
    assert kb.store.count() == second.chunks

    assert not kb.delete_document(first.doc_id, NOBODY)  # not the owner
    assert kb.delete_document(first.doc_id, Principal(user_id="admin"))
    assert kb.search("office opens", NOBODY) == []
    assert kb.list_documents(NOBODY) == [] and kb.store.count() == 0


def test_rejected_file_reports_reason(data_dir, tmp_path):
    kb = _kb(data_dir)
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    result = kb.ingest_file(bad, owner="admin")
    assert result.status == "rejected" and result.reason == "This file is empty."


def test_chunk_tier_comes_from_the_classifier_and_fails_closed(data_dir, tmp_path):
    def classify(text: str) -> Tier:
        if "boom" in text:
            raise RuntimeError("gate crashed")
        return Tier.REGULATED if "diagnosis" in text else Tier.PUBLIC

    kb = _kb(data_dir, classify=classify)
    kb.ingest_file(_write(tmp_path / "a.md", "# Menu\n\nSoup of the day."), owner="u", public=True)
    kb.ingest_file(_write(tmp_path / "b.md", "# Patient\n\nThe diagnosis is asthma."), owner="u", public=True)
    kb.ingest_file(_write(tmp_path / "c.md", "# Crash\n\nboom goes the gate."), owner="u", public=True)
    tiers = {c.title: c.tier for c in kb.search("soup diagnosis boom", NOBODY, k=10)}
    assert tiers == {"Menu": Tier.PUBLIC, "Patient": Tier.REGULATED, "Crash": Tier.REGULATED}


@pytest.fixture
def acl_kb(data_dir, tmp_path):
    kb = _kb(data_dir)
    kb.ingest_file(
        _write(
            tmp_path / "salaries.md",
            "# Salary bands\n\nCANARY-HR-7731: salary bands for 2024 are confidential.",
        ),
        owner="hr-admin",
        groups=["hr"],
    )
    kb.ingest_file(
        _write(tmp_path / "lunch.md", "# Canteen\n\nThe canteen serves salad and soup."),
        owner="hr-admin",
        public=True,
    )
    kb.ingest_file(
        _write(
            tmp_path / "mine.md", "# Carol's notes\n\nCANARY-CAROL-55: my private salary negotiation notes."
        ),
        owner="carol",
        display_name="mine.md",
    )
    return kb


@pytest.mark.parametrize("query", ["CANARY-HR-7731 salary bands", "salary bands 2024 confidential", "salary"])
def test_group_documents_never_reach_outsiders(acl_kb, query):
    for outsider in (BOB, NOBODY, ADMIN):
        texts = " ".join(c.text for c in acl_kb.search(query, outsider, k=10))
        assert "CANARY-HR-7731" not in texts
    assert "CANARY-HR-7731" in " ".join(c.text for c in acl_kb.search(query, ALICE, k=10))


def test_user_without_groups_sees_public_and_own_only(acl_kb):
    texts = " ".join(c.text for c in acl_kb.search("salary notes canteen", NOBODY, k=10))
    assert "CANARY-CAROL-55" in texts and "canteen" in texts and "CANARY-HR-7731" not in texts
    assert "CANARY-CAROL-55" not in " ".join(
        c.text for c in acl_kb.search("salary negotiation notes", ALICE, k=10)
    )
    titles = {d.title for d in acl_kb.list_documents(NOBODY)}
    assert titles == {"Canteen", "Carol's notes"}


def test_admin_bypass_only_by_setting(data_dir, tmp_path):
    kb = _kb(data_dir, retrieval={"admins_see_everything": True})
    kb.ingest_file(_write(tmp_path / "s.md", "# Pay\n\nCANARY-HR-1 pay scales."), owner="x", groups=["hr"])
    assert "CANARY-HR-1" in " ".join(c.text for c in kb.search("pay scales", ADMIN, k=5))
    assert kb.search("pay scales", BOB, k=5) == []


def test_acl_is_applied_before_top_k(data_dir, tmp_path):
    """Ten strong hr matches must not crowd the one public match out of a small candidate pool."""
    kb = _kb(data_dir, retrieval={"candidates": 3})
    sections = "\n\n".join(
        f"## Bonus plan {i}\n\nBonus plan bonus payout bonus rules, variant {i}." for i in range(10)
    )
    result = kb.ingest_file(
        _write(tmp_path / "hr.md", f"# Bonus plans\n\n{sections}"), owner="hr-admin", groups=["hr"]
    )
    assert result.chunks >= 10
    kb.ingest_file(
        _write(tmp_path / "pub.md", "# Notice\n\nThe bonus plan is described by HR."), owner="x", public=True
    )
    results = kb.search("bonus plan payout", BOB, k=3)
    assert [r.title for r in results] == ["Notice"]


def test_exact_match_boost_for_identifiers_and_numbers(data_dir, tmp_path):
    kb = _kb(data_dir)
    for code, days in (("HR-2023-99", "20"), ("HR-2024-17", "25"), ("HR-2022-03", "18")):
        kb.ingest_file(
            _write(
                tmp_path / f"{code}.md",
                f"# Leave policy\n\nPolicy {code} grants {days} days of paid leave per year.",
            ),
            owner="x",
            public=True,
        )
    top = kb.search("What does policy HR-2024-17 grant?", NOBODY, k=3)
    assert "HR-2024-17" in top[0].text and top[0].exact_matches == ("HR-2024-17",)
    assert top[0].dense_rank is not None and top[0].bm25_rank is not None
    quoted = kb.search('which policy says "18 days"?', NOBODY, k=3)
    assert "18 days" in quoted[0].text


def test_lexical_index_survives_restart(data_dir, tmp_path):
    kb = _kb(data_dir)
    kb.ingest_file(
        _write(tmp_path / "x.md", "# Parking\n\nParking permits cost 30 EUR."), owner="x", public=True
    )
    kb.search("parking permits", NOBODY)
    assert (data_dir / "lexical" / "manifest.json").is_file()
    again = _kb(data_dir)
    assert again._lexical.fingerprint == again.registry.fingerprint()
    assert again.search("parking permits", NOBODY)[0].bm25_rank == 1


CRASH_SCRIPT = """
import os, signal, sys
from pathlib import Path
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
from assistant.settings import load_settings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.testing import HashingEmbedder
from routing.tiers import Tier

data, docs, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
engine = open_database(GovernanceSettings(), data)
kb = KnowledgeBase(load_settings(data_dir=data), engine, lambda t: Tier.PUBLIC, embedder=HashingEmbedder())
paths = sorted(docs.iterdir())
for path in paths[:3]:
    print("committed", path.name, kb.ingest_file(path, owner="x", public=True).chunks, flush=True)

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if mode == "after_chunks":
    # Chunks of the 4th document reach Chroma, then the process dies before the registry commit.
    real_add = kb.store.collection.add
    def add_then_die(*args, **kwargs):
        real_add(*args, **kwargs)
        die()
    kb.store.collection.add = add_then_die
    kb.ingest_file(paths[3], owner="x", public=True)
else:
    # A changed 1st document is committed, then the process dies before the old chunks are removed.
    paths[0].write_text(paths[0].read_text() + "\\n\\nAn added paragraph about topic zero.\\n")
    kb.store.delete_version = die
    kb.ingest_file(paths[0], owner="x", public=True)
"""


@pytest.mark.parametrize("mode", ["after_chunks", "after_commit"])
def test_sigkill_during_ingest_leaves_a_consistent_collection(data_dir, tmp_path, mode):
    from knowledge.testing import HashingEmbedder

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        body = "\n\n".join(f"Paragraph {j} about topic {i} with several words in it." for j in range(60))
        _write(docs / f"doc{i}.md", f"# Doc {i}\n\n{body}")
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script), str(data_dir), str(docs), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    committed = [line.split()[1] for line in done.stdout.splitlines()]
    assert len(committed) == 3

    settings = load_settings(data_dir=data_dir)
    kb = KnowledgeBase(
        settings,
        open_database(GovernanceSettings(), data_dir),
        lambda t: Tier.PUBLIC,
        embedder=HashingEmbedder(),
    )
    assert kb.registry.garbage() == []
    rows = kb.registry.list_committed()
    assert sorted(r.display_name for r in rows) == sorted(committed)  # nothing acknowledged was lost
    by_version: dict[str, int] = {}
    for chunk in kb.store.iterate_all():
        by_version[chunk.metadata["version_id"]] = by_version.get(chunk.metadata["version_id"], 0) + 1
    assert by_version == {r.version_id: r.chunk_count for r in rows}  # no partial or orphan chunks
    assert kb.search("topic 1", NOBODY, k=3)
    if mode == "after_commit":
        assert any("added paragraph" in c.text for c in kb.search("added paragraph topic zero", NOBODY, k=3))
    assert kb.ingest_file(docs / "doc3.md", owner="x", public=True).status == "added"


def test_cli_ingest_search_list_delete(data_dir, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from assistant.cli import main  # the knowledge commands open the app's migrated database

    monkeypatch.setenv("CONFIDANTE_DATA_DIR", str(data_dir))
    folder = tmp_path / "handbook"
    folder.mkdir()
    _write(folder / "leave.md", "# Leave\n\nCANARY-CLI-42: parental leave is 16 weeks.")
    (folder / "bad.exe").write_bytes(b"MZ")
    runner = CliRunner()
    out = runner.invoke(main, ["ingest", str(folder), "--group", "hr", "--owner", "hr-admin", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["counts"] == {"added": 1, "rejected": 1}
    assert all(f["tier"] for f in report["files"] if f["status"] == "added")
    hit = json.loads(
        runner.invoke(main, ["search", "parental leave", "--user", "ann", "--group", "hr", "--json"]).stdout
    )
    assert "CANARY-CLI-42" in hit["chunks"][0]["text"] and hit["chunks"][0]["locator"] == "Leave"
    miss = json.loads(runner.invoke(main, ["search", "parental leave", "--user", "ben", "--json"]).stdout)
    assert miss["chunks"] == [] and miss["confidence"]["level"] == "low"
    listed = json.loads(runner.invoke(main, ["docs", "list", "--json"]).stdout)
    assert listed == []  # the local operator is not in hr
    listed = json.loads(runner.invoke(main, ["docs", "list", "--group", "hr", "--json"]).stdout)
    assert len(listed) == 1
    assert runner.invoke(main, ["docs", "delete", listed[0]["doc_id"]]).exit_code == 0
    assert runner.invoke(main, ["docs", "delete", listed[0]["doc_id"]]).exit_code == 1


def test_known_section_tiers_index_without_a_second_gate_pass(data_dir):
    from knowledge.parsing.documents import ParsedDocument, Section

    texts = ["The canteen serves soup on Mondays.", "Patient Ann Lee has a diagnosis of flu."]
    sections, cursor = [], 0
    for page, text in enumerate(texts, start=1):
        sections.append(Section(text=text, start=cursor, end=cursor + len(text), page=page))
        cursor += len(text) + 2
    parsed = ParsedDocument(
        title="Notes", kind="pdf", display_name="notes.pdf", sha256="1" * 64, size_bytes=100,
        sections=tuple(sections), page_count=2,
    )  # fmt: skip

    def gate_must_not_run(_text: str) -> Tier:
        raise AssertionError("the intake's tiers were known; the gate ran again")

    kb = _kb(data_dir, classify=gate_must_not_run)
    result = kb.ingest_parsed(
        parsed, doc_id="d1", source="upload:alice/j1", owner="alice", groups=(), public=False,
        section_tiers=(Tier.PUBLIC, Tier.REGULATED),
    )  # fmt: skip
    assert result.status == "added" and result.tier == "regulated"
    by_page = {
        c.page: c.tier for c in kb.search("canteen soup patient diagnosis", Principal(user_id="alice"), k=10)
    }
    assert by_page == {1: Tier.PUBLIC, 2: Tier.REGULATED}
