"""The one factory: builds every service from the settings tree, once, at start-up.

Nothing is loaded at import time anywhere in the project; `build_services` is where models,
the gate, the knowledge base and the database come to life, and `Services.close` is where they
go away. Tests build their own `Services` with fakes where they test logic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assistant.pipeline import ChatPipeline, ModelSet, TurnObserver, TurnServices
from assistant.privacy import FailClosedPrivacy, Privacy
from assistant.settings import Settings
from models.assembled import resolve_local_gguf
from models.background_load import BackgroundLoaded
from models.base import ChatModel
from models.degeneration import LoopGuard
from models.hosted import HostedModel, approximate_tokens, make_client
from models.local import LocalModel
from models.local_queue import QueuedModel, server_queue
from models.settings import HostedModelSettings, LocalModelSettings
from routing.breaker import BreakerModel, BreakerRegistry
from routing.cache import ResponseCache
from routing.retry import RetryingModel, RetryPolicy
from routing.tiers import Tier

if TYPE_CHECKING:
    from assistant.governance.component import Governance
    from assistant.turn_records import GovernanceRecorder
    from assistant.uploads.service import UploadService
    from assistant.uploads.worker import JobEvents
    from knowledge.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)
_LOAD_WAIT_S = 24 * 3600.0


def resolve_local_model(settings: LocalModelSettings, data_dir: Path) -> Path:
    """The GGUF to load, verified against its pin (refused otherwise); parts assembled once."""
    return resolve_local_gguf(settings, data_dir)


def build_local_model(settings: Settings, on_local_wait: Callable[[str], None] | None = None) -> ChatModel:
    """In process by default; a private OpenAI-compatible server (llama.cpp, vLLM) by setting.

    With `on_local_wait`, an in-process model's weights load on a background thread when first
    needed (`BackgroundLoaded`): a request that needs them before then waits, after `on_local_wait`
    is told so once.
    """
    local = settings.models.local
    if local.server_url:
        server = HostedModelSettings(
            api_key=local.server_api_key,
            base_url=local.server_url,
            max_tokens=local.max_tokens,
            temperature=local.temperature,
        )
        # Every model streams through the loop guard: a looping answer is cut and marked.
        # The server generates `server_parallel` answers at once; the rest wait in the fair queue.
        return LoopGuard(
            QueuedModel(
                HostedModel(
                    local.server_model,
                    server,
                    kind="local",
                    context_window=local.context_window,
                    count_tokens=approximate_tokens,
                ),
                server_queue(local),
            )
        )
    if on_local_wait is None:
        return LoopGuard(LocalModel(resolve_local_model(local, settings.data_dir), local))
    return LoopGuard(local_in_background(settings, on_local_wait))


def local_in_background(settings: Settings, on_wait: Callable[[str], None]) -> BackgroundLoaded:
    """The in-process model for `confidante chat`: its pin check (a bad pin stops start-up with
    `ModelFileError`) and vocabulary now, on this thread; its weights on a background thread, when
    first needed (at once without a hosted model: every answer needs them)."""
    local = settings.models.local
    model = LocalModel(resolve_local_model(local, settings.data_dir), local)
    model.count_tokens("warm")  # the vocabulary: a hosted turn counts its tokens with it

    def ready(model: ChatModel) -> None:
        # Starts the worker, which loads the weights. As long as it takes: a turn that needs the
        # model waits for it as it did when it loaded on first use; its own errors come through.
        model.wait_ready(timeout=_LOAD_WAIT_S)  # type: ignore[attr-defined]

    return BackgroundLoaded(
        lambda: model,
        name=local.name,
        context_window=local.context_window,
        ready=ready,
        approximate=approximate_tokens,
        on_wait=on_wait,
        # No hosted model: every answer is the local model's, so its weights are needed anyway.
        load_at_once=not settings.models.hosted.configured,
    )


def build_hosted_models(settings: Settings, count_tokens: Any) -> list[ChatModel]:
    """Strong model first, then the cheap one; empty when nothing hosted is configured.

    Each is wrapped from the outside: a circuit breaker per endpoint, then the one retry layer.
    """
    hosted = settings.models.hosted
    if not hosted.configured:
        return []
    client = make_client(hosted)
    breakers = BreakerRegistry.from_settings(settings.reliability)
    policy = RetryPolicy.from_settings(settings.reliability)
    names = dict.fromkeys([hosted.models.strong, hosted.models.cheap])  # ordered, de-duplicated
    models: list[ChatModel] = []
    for name in names:
        model = HostedModel(name, hosted, count_tokens=count_tokens, client=client)
        guarded = BreakerModel(LoopGuard(model), breakers.for_endpoint(model.endpoint))
        models.append(RetryingModel(guarded, policy))
    return models


@dataclass
class Services:
    settings: Settings
    pipeline: ChatPipeline
    models: ModelSet
    privacy: Privacy
    governance: Governance | None = None
    knowledge: KnowledgeBase | None = None
    # The one recorder of model calls (chat turns and summaries alike); None without governance.
    recorder: GovernanceRecorder | None = None

    async def aclose(self) -> None:
        """`close`, after what lives in the event loop: tools' kept MCP sessions (their server
        processes exit). The app's shutdown and the CLI call this one."""
        tools = self.pipeline.services.tools
        if tools is not None:
            await tools.aclose()
        self.close()

    def close(self) -> None:
        closer = getattr(self.models.local, "close", None)
        if closer is not None:
            closer()
        if self.governance is not None:
            self.governance.close()


def build_privacy(settings: Settings) -> Privacy:
    """The real gate; if it cannot load, fail closed (everything stays local) and say why."""
    try:
        from assistant.privacy_gate import build_gate_privacy
    except ImportError as exc:
        return FailClosedPrivacy(f"gate not installed: {exc}")
    try:
        return build_gate_privacy(settings)
    except Exception as exc:
        log.exception("sensitivity gate failed to load; failing closed")
        return FailClosedPrivacy(str(exc))


def tier_classifier(privacy: Privacy) -> Callable[[str], Tier]:
    """How ingestion classifies a chunk: the same gate as chat messages (fails closed)."""

    def classify(text: str) -> Tier:
        return privacy.assess(text, source="document").tier

    batch = getattr(getattr(privacy, "gate", None), "classify_many", None)
    if callable(batch):
        # A document's chunks in one batch (`knowledge.ingestion.classify_all`): the same decisions.
        def many(texts: list[str]) -> list[Tier]:
            return [decision.tier for decision in batch(texts, source="document")]

        classify.many = many  # type: ignore[attr-defined]
    return classify


def build_knowledge(settings: Settings, governance: Governance, privacy: Privacy) -> KnowledgeBase | None:
    if not settings.knowledge.enabled:
        return None
    from knowledge.knowledge_base import KnowledgeBase

    return KnowledgeBase(settings, governance.engine, tier_classifier(privacy))


def build_services(
    settings: Settings,
    *,
    models: ModelSet | None = None,
    privacy: Privacy | None = None,
    observers: list[TurnObserver] | None = None,
    with_governance: bool = True,
    governance: Governance | None = None,
    on_local_wait: Callable[[str], None] | None = None,
) -> Services:
    """Everything the app needs. `with_governance=False` gives a bare pipeline (benchmarks).

    `on_local_wait` loads the in-process local model's weights in the background when first needed
    (see `build_local_model`); the gate itself is always fully loaded before this returns.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ours = models is None
    if models is None:
        # The model file's pin check comes first, on this thread: run beside the gate's load it
        # made the gate slower than both in turn on the busy 2-core machine (GIL convoy with the
        # hashing thread: gate done 9.2 s vs 7.0 s median, 4 alternating pairs at load 5-7).
        local = build_local_model(settings, on_local_wait)
        models = ModelSet(local=local, hosted=build_hosted_models(settings, local.count_tokens))
    try:
        return _assemble(settings, models, privacy, governance, observers, with_governance)
    except BaseException:
        # A store in use or a bad setting after our local model began loading: stop its loader
        # before the process exits (exiting while llama.cpp loads crashed the process).
        closer = getattr(models.local, "close", None) if ours else None
        if closer is not None:
            closer()
        raise


def _assemble(
    settings: Settings,
    models: ModelSet,
    privacy: Privacy | None,
    governance: Governance | None,
    observers: list[TurnObserver] | None,
    with_governance: bool,
) -> Services:
    privacy = privacy or build_privacy(settings)
    knowledge = None
    recorder = None
    turn_services = TurnServices()
    observers = list(observers or [])
    if not with_governance:
        governance = None
    else:
        from assistant.experiments.recorder import ExperimentRecorder
        from assistant.experiments.store import ExperimentStore
        from assistant.governance.component import build_governance
        from assistant.review.queue import ReviewQueue
        from assistant.review.recorder import ReviewRecorder
        from assistant.tools.wiring import build_chat_tools
        from assistant.turn_records import GovernanceBudgets, GovernanceEscalations, GovernanceRecorder

        governance = governance or build_governance(settings.governance, settings.data_dir)
        knowledge = build_knowledge(settings, governance, privacy)
        if knowledge is not None and settings.knowledge.retrieval.rerank.judge != "off":
            from knowledge.relevance_judge import judge_of

            # The private model only: the judge reads passages of every tier.
            knowledge.judge_model = judge_of(models.local)
        experiments = ExperimentStore(governance.engine)
        turn_services = TurnServices(
            knowledge=knowledge,
            escalations=GovernanceEscalations(governance),
            budgets=GovernanceBudgets(governance),
            cache=ResponseCache.from_settings(settings.reliability)
            if settings.reliability.cache_enabled
            else None,
            doc_set_version=knowledge.registry.fingerprint if knowledge is not None else None,
            experiments=experiments,
        )
        turn_services.tools = build_chat_tools(
            settings, privacy=privacy, knowledge=knowledge, governance=governance, experiments=experiments
        )
        recorder = GovernanceRecorder(governance, settings)
        observers.extend(
            [
                recorder,
                ExperimentRecorder(experiments, settings),
                ReviewRecorder(ReviewQueue(governance.engine, settings.review)),
            ]
        )
    pipeline = ChatPipeline(
        settings=settings, models=models, privacy=privacy, observers=observers, services=turn_services
    )
    return Services(
        settings=settings,
        pipeline=pipeline,
        models=models,
        privacy=privacy,
        governance=governance,
        knowledge=knowledge,
        recorder=recorder,
    )


def build_uploads(
    services: Services, events: JobEvents | None = None, *, role: Literal["app", "worker"] = "app"
) -> UploadService:
    """The upload service on the app's own models, gate, database, knowledge base and recorder:
    every summary call is audited, metered and charged to the uploader, and a user over budget
    cannot start a summary."""
    from assistant.turn_records import GovernanceBudgets
    from assistant.uploads.service import build_upload_service

    if services.governance is None or services.recorder is None:
        raise RuntimeError("uploads need governance (the jobs table, the audit trail, budgets)")
    settings = services.settings
    return build_upload_service(
        settings=settings.uploads,
        parsing=settings.knowledge.parsing,
        engine=services.governance.engine,
        data_dir=settings.data_dir,
        models=services.models,
        privacy=services.privacy,
        index=services.knowledge,
        events=events,
        on_call=services.recorder.on_upload_call,
        budgets=GovernanceBudgets(services.governance),
        role=role,
    )
