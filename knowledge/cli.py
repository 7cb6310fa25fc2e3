"""Command-line access to the knowledge base: ingest, docs list/delete, search, eval-rag.

The lead adds `KNOWLEDGE_COMMANDS` to the `confidante` click group. Ingestion classifies every
chunk with the sensitivity gate when it can be loaded; when it cannot, chunks are stored as
regulated (fail closed) and the command says so.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from knowledge.access import LOCAL_OPERATOR, Principal
from knowledge.ingestion import Classifier
from routing.tiers import Tier


def _fail_closed(_text: str) -> Tier:
    return Tier.REGULATED


def load_classifier(settings: Any) -> tuple[Classifier, str | None]:
    """The gate's classifier, or a fail-closed one plus a warning when the gate cannot load."""
    try:
        from routing.gate import build_gate

        gate = build_gate(settings.routing)
        return (lambda text: Tier(gate.classify(text, source="document").tier)), None
    except Exception as exc:  # the gate is optional here; without it nothing is trusted
        return (
            _fail_closed,
            f"sensitivity gate unavailable ({type(exc).__name__}: {exc}); all chunks stored as regulated",
        )


def open_knowledge_base(settings: Any, classify: Classifier | None = None) -> Any:
    from knowledge.knowledge_base import KnowledgeBase

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = _from_app(APP_DATABASE)(settings)
    return KnowledgeBase(settings, engine, classify or _fail_closed)


# The app's command group puts a `() -> settings` loader (its root settings) under this key of the
# click context's `meta`; run on their own, the commands read the same sections themselves.
APP_SETTINGS = "confidante.app_settings"
# Databases come from the app too, opened through its migrations (this package creates no table):
# `(settings) -> Engine` the app's database, and a `DatabaseAt` for throwaway ones (evaluations).
APP_DATABASE = "confidante.app_database"
SCRATCH_DATABASE = "confidante.scratch_database"


def _from_app(key: str) -> Any:
    found = click.get_current_context().meta.get(key)
    if found is None:
        raise click.ClickException("run this through `confidante`: it opens the database with its migrations")
    return found


def _settings() -> Any:
    from knowledge.host_settings import load_settings

    load = click.get_current_context().meta.get(APP_SETTINGS)
    return load() if load is not None else load_settings()


def _files(paths: tuple[Path, ...]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--group", "groups", multiple=True, help="ACL group allowed to read (repeatable).")
@click.option("--owner", default=LOCAL_OPERATOR.user_id, show_default=True)
@click.option("--public", is_flag=True, help="Everyone may read these documents.")
@click.option("--json", "as_json", is_flag=True)
def ingest(paths: tuple[Path, ...], groups: tuple[str, ...], owner: str, public: bool, as_json: bool) -> None:
    """Ingest files and directories (recursively) into the knowledge base."""
    settings = _settings()
    classify, warning = load_classifier(settings)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    kb = open_knowledge_base(settings, classify)
    results = [
        kb.ingest_file(path, owner=owner, groups=groups, public=public).model_dump() | {"path": str(path)}
        for path in _files(paths)
    ]
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    chunks = sum(r["chunks"] for r in results if r["status"] in ("added", "replaced"))
    if as_json:
        click.echo(json.dumps({"counts": counts, "chunks": chunks, "files": results}, indent=2))
        return
    for result in results:
        extra = result["reason"] or f"{result['chunks']} chunks, {result['tier']}"
        click.echo(f"{result['status']:>9}  {result['path']}  ({extra})")
    click.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) + f" chunks={chunks}")


@click.group("docs")
def docs() -> None:
    """List or delete documents in the knowledge base."""


@docs.command("list")
@click.option("--user", default=None, help="List what this user may see (default: the local operator).")
@click.option("--group", "groups", multiple=True)
@click.option("--json", "as_json", is_flag=True)
def docs_list(user: str | None, groups: tuple[str, ...], as_json: bool) -> None:
    principal = Principal(user_id=user, groups=frozenset(groups)) if user else LOCAL_OPERATOR
    if not user and groups:
        principal = LOCAL_OPERATOR.model_copy(update={"groups": frozenset(groups)})
    kb = open_knowledge_base(_settings())
    documents = kb.list_documents(principal)
    if as_json:
        click.echo(json.dumps([d.model_dump() for d in documents], indent=2))
        return
    for d in documents:
        access = "public" if d.public else ",".join(d.groups) or f"owner {d.owner}"
        click.echo(f"{d.doc_id}  {d.title[:50]:<50}  {d.chunks:>5} chunks  {d.tier:<9}  {access}")


@docs.command("delete")
@click.argument("doc_id")
def docs_delete(doc_id: str) -> None:
    kb = open_knowledge_base(_settings())
    if not kb.delete_document(doc_id, LOCAL_OPERATOR):
        click.echo(f"no document {doc_id}", err=True)
        sys.exit(1)
    click.echo(f"deleted {doc_id}")


@click.command("search")
@click.argument("query")
@click.option("--user", required=True)
@click.option("--group", "groups", multiple=True)
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--json", "as_json", is_flag=True)
def search(query: str, user: str, groups: tuple[str, ...], k: int, as_json: bool) -> None:
    """Search as USER (with GROUPs): only what that user may read is returned."""
    kb = open_knowledge_base(_settings())
    principal = Principal(user_id=user, groups=frozenset(groups))
    chunks = kb.search(query, principal, k)
    confidence = kb.confidence(chunks)
    if as_json:
        rows = [c.model_dump(exclude={"version_id"}) | {"locator": c.locator} for c in chunks]
        click.echo(
            json.dumps(
                {
                    "query": query,
                    "chunks": rows,
                    "answerable": kb.is_answerable(chunks),
                    "confidence": confidence.model_dump(),
                },
                indent=2,
            )
        )
        return
    for rank, c in enumerate(chunks, start=1):
        click.echo(
            f"{rank}. [{c.score:.4f}] {c.title} ({c.locator}) {c.tier}: {' '.join(c.text.split())[:160]}"
        )
    click.echo(f"confidence: {confidence.level} ({confidence.score}) {confidence.reason}")


@click.command("eval-rag")
@click.option(
    "--corpus",
    "--data",
    "corpora",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A directory with docs/*.md and qa.jsonl (repeatable; default: the SQuAD subset).",
)
@click.option(
    "--calibrate", is_flag=True, help="Also fit the answerability weights (leave-one-article-out AUROC)."
)
@click.option(
    "--fit-rerank",
    is_flag=True,
    help="Refit the rerank fusion on the corpora's train splits and write it to knowledge/data.",
)
@click.option(
    "--judge", is_flag=True, help="Also measure the private model's relevance judge (slow; verdicts cached)."
)
@click.option("--judge-cache", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--judge-limit", type=int, default=None, help="Judge only the first N questions of each split and corpus."
)
@click.option("--json", "as_json", is_flag=True)
def eval_rag(
    corpora: tuple[Path, ...],
    calibrate: bool,
    fit_rerank: bool,
    judge: bool,
    judge_cache: Path | None,
    judge_limit: int | None,
    as_json: bool,
) -> None:
    """Recall@1/@5 and MRR before/after reranking (train and held-out splits), and its latency."""
    from knowledge.evaluation import evaluate_corpora

    paths = corpora or (Path("../shared/eval/rag/squad2_subset"),)
    scratch = _from_app(SCRATCH_DATABASE)
    summary = evaluate_corpora(
        paths,
        scratch_database=scratch,
        fit=fit_rerank,
        progress=lambda line: click.echo(line, err=True),
        judge=_private_judge() if judge else None,
        judge_cache=judge_cache,
        judge_limit=judge_limit,
    )
    if calibrate:
        from knowledge.calibration import fit_answerability
        from knowledge.evaluation import run_rag_eval

        report = run_rag_eval(paths[0], scratch_database=scratch)
        summary["answerability"] = report.summary() | {
            "calibration": fit_answerability(report.outcomes).model_dump()
        }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    for name, block in summary.items():
        click.echo(f"== {name}")
        for key, value in block.items():
            click.echo(f"  {key}: {value}")


def _private_judge() -> Any:
    from knowledge.relevance_judge import private_judge
    from models.settings import LocalModelSettings

    settings = _settings()
    # The app's root settings carry its `models.local`; run alone, the profile's defaults.
    local = getattr(getattr(settings, "models", None), "local", None) or LocalModelSettings()
    return private_judge(local, settings.data_dir)


KNOWLEDGE_COMMANDS: tuple[click.Command, ...] = (ingest, docs, search, eval_rag)
