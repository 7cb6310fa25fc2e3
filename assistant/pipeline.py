"""One chat turn, from the user's message to a streamed, receipted answer.

Order matters and is the product's promise:
1. assess the message (gate), taint with the conversation, attachments and retrieved chunks;
2. decide the route from the policy (regulated → local only);
3. assemble the request within the model's context budget;
4. pseudonymize before anything goes to a hosted model, and check the outgoing request again;
5. stream, restoring placeholders; fall back only in directions the tier allows;
6. record the turn (audit, metrics) and remember it in the conversation.

Nothing regulated is ever handed to a hosted model from here: a regulated turn's model chain
contains only local models, and any error on the way fails closed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

from assistant.answer_filter import AnswerFilter, values_to_mask
from assistant.context import fit_messages
from assistant.escalation_policy import auto_escalation, failures_in_a_row, ticket_detail
from assistant.executors import run_interactive
from assistant.experiments import turn_options
from assistant.experiments.models import Capability, TurnVariant
from assistant.grounded import (
    Knowledge,
    Retrieval,
    answer_confidence_view,
    closest_refs,
    confidence_view,
    grounded_request_parts,
    not_found_answer,
    select_context,
    source_refs,
)
from assistant.identity import Principal
from assistant.intent import classify_intent, decide_grounding, wants_a_person
from assistant.privacy import Privacy, Restorer, passthrough_restorer
from assistant.security.jailbreak_guard import BLOCKED_MESSAGE, persona_answer, score_message
from assistant.security.leak_guard import PromptLeakGuard
from assistant.security.output_hygiene import OutputSanitizer
from assistant.settings import Settings
from assistant.tools.chat_turn import (
    ROUND_BREAK,
    ChatTools,
    ToolTurnResult,
    after_earlier_text,
    joined_answer,
)
from assistant.tools.loop import RoundRequest
from assistant.tools.rounds import VaultPlaceholders
from assistant.turns import (
    AnswerDelta,
    ConfidenceView,
    Conversation,
    Notice,
    Outcome,
    Receipt,
    SourceRef,
    TurnEvent,
    TurnResult,
)
from knowledge.citations import attribute_citations
from models.base import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    ModelBusy,
    ModelError,
    StreamCutOff,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from models.degeneration import REPETITION_NOTICE
from routing.cache import CacheKey, ResponseCache
from routing.decision import GateDecision
from routing.retry import closing_stream
from routing.routed import (
    CallRecord,
    Candidate,
    FellBack,
    ModelSet,
    SkipCandidate,
    call_record,
    in_order,
)
from routing.taint import TaintSource, combine
from routing.tiers import Route, Tier, highest
from routing.turn_budget import Span, TurnBudget, TurnClock

if TYPE_CHECKING:
    from knowledge.grounding import Source

log = logging.getLogger(__name__)

ASKED_FOR_PERSON = (
    "I've passed your question to the support team. A person will follow up with you; their reply "
    "does not appear in this chat. You can keep chatting with me meanwhile."
)
# A tool round can end with the model writing nothing (seen: the standard local model after three
# document tool calls, 90 s, and an empty bubble); the user gets a sentence instead of a blank.
NO_ANSWER_AFTER_TOOLS = (
    "I used my tools but could not write an answer from what they returned. Try asking more "
    "specifically, or use Ask a person."
)
HOSTED_NOT_CONFIGURED = (
    "No hosted model is configured, so every answer comes from the private model on this machine."
)
PSEUDONYMIZATION_FAILED = (
    "This message could not be safely prepared for the hosted model, so the private model answered."
)
PROMPT_TEMPLATE_VERSION = "chat-v1"
CUT_SHORT = (
    "The hosted model did not answer in time, so the private model answered, and its answer was "
    "cut short to keep you from waiting. Ask again for a fuller answer."
)


class TurnObserver(Protocol):
    """Receives every finished turn (audit trail, metrics). Must not raise into the turn."""

    def on_turn(
        self,
        conversation: Conversation,
        user_text: str,
        result: TurnResult,
        calls: Sequence[CallRecord],
    ) -> None: ...


class Escalations(Protocol):
    """Hands a conversation over to a person (governance stores it; admins resolve it)."""

    def open_escalation(self, *, thread_id: str, user_id: str, reason: str, detail: str) -> str: ...


class Budgets(Protocol):
    """Per-user daily token and cost budgets."""

    def allows(self, principal: Principal) -> str | None:
        """None when the user may go on; otherwise the sentence to show them."""
        ...

    def charge(self, principal: Principal, *, tokens: int, cost_usd: float) -> None: ...


class VariantSource(Protocol):
    """The A/B experiments: a user's sticky variant of the running experiment on a capability."""

    def variant_for(self, user_id: str, capability: Capability) -> TurnVariant | None: ...


@dataclass
class TurnServices:
    """Optional collaborators of a turn; each is absent in a minimal deployment or a unit test."""

    knowledge: Knowledge | None = None
    escalations: Escalations | None = None
    budgets: Budgets | None = None
    # Exact-match answers for public, stateless questions; keyed by the document-set version.
    cache: ResponseCache[CachedAnswer] | None = None
    doc_set_version: Callable[[], str] | None = None
    # A/B experiments: a variant shapes the answer (prompt, k, rerank, model order), never the route.
    experiments: VariantSource | None = None
    # Tool calling (issue 14); off when None, when the user may use no tool, or when no model of
    # the route can call tools.
    tools: ChatTools | None = None


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    answer: str
    end: StreamEnd
    refs: tuple[SourceRef, ...]
    confidence: ConfidenceView | None


@dataclass
class _TurnState:
    """Mutable bookkeeping of one turn while it streams."""

    calls: list[CallRecord] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    end: StreamEnd | None = None
    outcome: Outcome = "ok"
    finish_reason: str = "stop"
    retrieval: Retrieval = field(default_factory=Retrieval)
    sources: tuple[Source, ...] = ()
    refs: tuple[SourceRef, ...] = ()
    confidence: ConfidenceView | None = None
    escalation_id: str | None = None
    escalate: str | None = None
    cache_key: CacheKey | None = None
    cached: bool = False
    # The whole answer after the final hygiene pass; None until a model answered.
    final_answer: str | None = None
    # The user's regulated values the answer must not echo (memory only), and what was cleaned out.
    echo_values: list[str] = field(default_factory=list)
    cleaned: dict[str, int] = field(default_factory=dict)
    # The experiment variant this turn runs under (None: no experiment running).
    variant: TurnVariant | None = None
    # The tools experiment's variant, when the turn got as far as deciding on tools.
    tools_variant: TurnVariant | None = None
    # What pseudonymization replaced in the request that went out (counts by type).
    pseudonymized: dict[str, int] = field(default_factory=dict)
    # The current tool round (exchange so far, tools on offer) and the calls its model asked for.
    tool_round: RoundRequest | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    # The turn's clock (routing/turn_budget.py) and how many walks of the chain it made.
    turn: TurnClock | None = None
    walks: int = 0
    # Read before the gate: the owner's budget refusal (None: they may go on) and the app's tools
    # for this turn (its tools variant looked up once).
    over_budget: str | None = None
    chat_tools: ChatTools | None = None


class ChatPipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        models: ModelSet,
        privacy: Privacy,
        observers: Sequence[TurnObserver] = (),
        services: TurnServices | None = None,
    ) -> None:
        self._settings = settings
        self._models = models
        self._privacy = privacy
        self._observers = list(observers)
        self._services = services or TurnServices()
        self._sanitizer = OutputSanitizer.from_settings(settings)
        self._leak_guard = PromptLeakGuard([], system_prompt=settings.chat.system_prompt)

    @property
    def models(self) -> ModelSet:
        return self._models

    @property
    def services(self) -> TurnServices:
        return self._services

    def observe(self, observer: TurnObserver) -> None:
        """Add an observer after construction (evaluations record what the model really said)."""
        self._observers.append(observer)

    async def run(self, conversation: Conversation, text: str) -> AsyncIterator[TurnEvent]:
        """Stream one turn. Cancelling the consumer stops the model and records the turn."""
        # The turn's clock starts at the user's message: every deadline covers our own queueing.
        turn = TurnClock(TurnBudget.from_settings(self._settings.reliability))
        async with conversation.lock:
            turn.add(Span(phase="lock", start_ms=0.0, ms=round(turn.ms(), 1), outcome="ok"))
            async for event in self._run_locked(conversation, text, turn):
                yield event

    async def _run_locked(
        self, conversation: Conversation, text: str, turn: TurnClock | None = None
    ) -> AsyncIterator[TurnEvent]:
        # The turn's own database reads (the experiment variants, the owner's budget), once per
        # turn, before the gate. Beside the gate (on the loop while its thread ran) they saved no
        # first-token time and made the gate itself ~1 ms slower: both need the GIL, and the gate
        # holds it for most of its work (bench/bench_api.py, issue 15).
        variant, state_tools = self._variants_for(conversation, text)
        state = _TurnState(variant=variant, chat_tools=state_tools)
        state.over_budget = self._budget_refusal(conversation)
        state.turn = turn = turn or TurnClock(TurnBudget.from_settings(self._settings.reliability))
        with turn.span("gate"):
            # The gate is CPU-bound (spaCy): keep it off the event loop so other users are served.
            decision, state.echo_values = await run_interactive(_gate_message, self._privacy, text)
        with turn.span("retrieval"):
            state.retrieval = await self._retrieve(conversation, text, state.variant)
        decision = combine(
            decision,
            TaintSource("conversation", conversation.tier, tuple(conversation.tainted_by)),
            TaintSource("retrieved-document", state.retrieval.tier, tuple(state.retrieval.tainted_by())),
            route_for=self._privacy.route_for,
        )
        route = decision.route
        if route != Route.LOCAL and not self._models.hosted_configured:
            route = Route.LOCAL
            if not conversation.hosted_notice_shown:
                conversation.hosted_notice_shown = True
                yield Notice("hosted_not_configured", HOSTED_NOT_CONFIGURED)
        tools = ToolTurnResult(decision)
        try:
            blocked = self._short_circuit(conversation, text, state)
            cached = None if blocked else self._cached(conversation, text, route, decision, state)
            if blocked is not None or cached is not None:
                state.answer = [blocked or cached or ""]
                yield AnswerDelta(state.answer[0], whole=True)
            else:
                async for event in self._answer(conversation, text, route, decision, state, tools):
                    yield event
        finally:
            # A tool result may have raised the turn (never lowered): the receipt and the chat keep it.
            decision, route = tools.decision, Route.LOCAL if tools.decision.route == Route.LOCAL else route
            # Runs on normal end and on cancellation alike, so a stopped turn is still recorded.
            # On the event loop, not a thread: moved to the lanes it cost more than it freed (100
            # sessions, bench_load: 77.4 vs 67.5 ms CPU per turn, mean turn 5.3 vs 4.1 s: the
            # endings queued behind other users' gates and contended for the GIL).
            result = self._finish(conversation, text, decision, route, state, turn)
            self._notify(conversation, text, result, state.calls)
        yield result

    def _short_circuit(self, conversation: Conversation, text: str, state: _TurnState) -> str | None:
        """Answers that need no model: over budget, a request for a person, nothing found."""
        if state.over_budget:
            state.outcome, state.finish_reason = "over_budget", "stop"
            return state.over_budget
        if score_message(text).flagged:
            # A jailbreak attempt: refused without a model call, and handed to a person to look at.
            state.outcome, state.escalate = "blocked", "policy_block"
            return BLOCKED_MESSAGE
        if wants_a_person(text):
            state.outcome, state.escalate = "escalated", "user_request"
            return ASKED_FOR_PERSON
        retrieval = state.retrieval
        if retrieval.candidates and not retrieval.answerable:
            state.refs = closest_refs(retrieval.candidates)
            knowledge = self._services.knowledge
            if knowledge is not None:
                state.confidence = confidence_view(knowledge.confidence(retrieval.candidates, None))
            # An honest "not found" is an answer, not a ticket (the user can still ask a person).
            return not_found_answer(state.refs)
        return None

    def _cached(
        self,
        conversation: Conversation,
        text: str,
        route: Route,
        decision: GateDecision,
        state: _TurnState,
    ) -> str | None:
        """A cached answer for a public question asked with no history (it cannot depend on one)."""
        cache = self._services.cache
        tier = decision.tier
        if cache is None or tier != Tier.PUBLIC or conversation.history:
            return None
        if conversation.answer_cap is not None:  # a cached answer may be longer than the cap
            return None
        versions = self._services.doc_set_version
        state.cache_key = CacheKey.of(
            user_id=conversation.principal.user_id,
            question=text,
            doc_set_version=versions() if versions else "",
            model=self._chain(route, state.variant)[0].model.name,
            prompt_version=f"{turn_options.prompt_version(state.variant, PROMPT_TEMPLATE_VERSION)}/"
            f"{decision.policy_version}",
        )
        hit = cache.get(state.cache_key, tier=tier)
        if hit is None:
            return None
        state.end, state.refs, state.confidence, state.cached = hit.end, hit.refs, hit.confidence, True
        return hit.answer

    def _remember_answer(self, answer: str, tier: Tier, state: _TurnState) -> None:
        cache = self._services.cache
        if cache is None or state.cache_key is None or state.cached or state.end is None:
            return
        if state.outcome == "ok" and state.finish_reason == "stop" and answer:
            cache.put(
                state.cache_key, CachedAnswer(answer, state.end, state.refs, state.confidence), tier=tier
            )

    async def _retrieve(
        self, conversation: Conversation, text: str, variant: TurnVariant | None = None
    ) -> Retrieval:
        knowledge = self._services.knowledge
        intent = classify_intent(text)
        if knowledge is None or not conversation.use_documents or intent.kind == "chat":
            return Retrieval()
        k = turn_options.retrieval_k(variant, self._settings.chat.retrieval_k)
        options = turn_options.search_options(variant)
        candidates = await run_interactive(knowledge.search, text, conversation.principal, k, **options)
        if not candidates:
            return Retrieval()
        grounding = decide_grounding(
            intent,
            answerable=knowledge.is_answerable(candidates),
            clearly_relevant=knowledge.confidence(candidates, None).level == "high",
            names_document_terms=bool(candidates[0].exact_matches),
        )
        if grounding == "not_found":
            return Retrieval(candidates=candidates)
        if grounding == "none":  # a general task: the model answers, unrelated passages stay out
            return Retrieval()
        return Retrieval(chunks=select_context(candidates), answerable=True, candidates=candidates)

    async def _answer(
        self,
        conversation: Conversation,
        text: str,
        route: Route,
        decision: GateDecision,
        state: _TurnState,
        tools: ToolTurnResult,
    ) -> AsyncIterator[TurnEvent]:
        """The model part of the turn: one streamed answer, or the rounds of the tool loop, each
        through the same routed chain (`assistant.tools.chat_turn`)."""
        chat_tools = state.chat_tools
        state.tools_variant = turn_options.tools_variant(chat_tools, conversation.principal)
        chain = self._chain(route, state.variant)
        if chat_tools is None or not chat_tools.available(chain, conversation.principal, decision.tier):
            async for event in self._stream_chain(chain, conversation, text, route, state):
                yield event
            return
        usage = Usage()

        async def round_(request: RoundRequest) -> AsyncIterator[object]:
            nonlocal usage
            state.tool_round, state.tool_calls, state.end = request, [], None
            # Once a tool result made the turn local, every later round is local.
            step = Route.LOCAL if Route.LOCAL in (route, request.route) else request.route
            chain = self._chain(step, state.variant)
            # Text the model wrote in an earlier round (before calling a tool) stays in the answer.
            earlier = state.final_answer
            try:
                events = self._stream_chain(chain, conversation, text, step, state)
                async for event in after_earlier_text(events, earlier, AnswerDelta(ROUND_BREAK)):
                    yield event
            finally:  # also when the turn is stopped mid-round
                state.final_answer = joined_answer(earlier, state.final_answer)
            for call in state.tool_calls:
                yield ToolCallEvent(call)
            if state.end is not None:
                usage = _added(usage, state.end.usage)
                yield state.end

        async for item in chat_tools.run(
            round_,
            principal=conversation.principal,
            decision=decision,
            route_for=self._privacy.route_for,
            result=tools,
            thread_id=conversation.id,
            restore=VaultPlaceholders(lambda: conversation.vault),
        ):
            yield cast(TurnEvent, item)  # the rounds' own events: answer text and notices
        if state.end is not None:  # the turn is charged for every round
            state.end = state.end.model_copy(update={"usage": usage})
        if tools.report is not None and tools.report.records:
            state.cache_key = None  # an answer built on tool results (dates, documents) is not reusable
        stop = tools.report.message if tools.report is not None else ""
        if stop:
            state.final_answer = f"{state.final_answer or ''}\n\n{stop}".strip()
            yield AnswerDelta(f"\n\n{stop}")
        elif state.end is not None and not (state.final_answer or "").strip():
            state.final_answer = NO_ANSWER_AFTER_TOOLS
            yield AnswerDelta(NO_ANSWER_AFTER_TOOLS)

    def _chain(self, route: Route, variant: TurnVariant | None = None) -> list[Candidate]:
        """The models this route may use, in order (`ModelSet.chain`: local-only routes get the
        guarded local model alone)."""
        # A variant's preferred model only reorders what the route allows; it never adds one.
        return turn_options.prefer_model(self._models.chain(route), variant, lambda c: c.model.name)

    def _budget_refusal(self, conversation: Conversation) -> str | None:
        budgets = self._services.budgets
        return budgets.allows(conversation.principal) if budgets else None

    def _variants_for(
        self, conversation: Conversation, text: str
    ) -> tuple[TurnVariant | None, ChatTools | None]:
        """The turn's experiment variant, and the app's tools for this turn with theirs: from one
        store query when both come from the same store (each query was ~0.2 ms of the first token
        on the API path, issue 15), else each as its own look-up."""
        experiments, tools = self._services.experiments, self._services.tools
        principal = conversation.principal
        if experiments is None:
            return None, turn_options.tools_for_turn(tools, principal)
        documents = conversation.use_documents and self._services.knowledge is not None
        capability = turn_options.capability_of(classify_intent(text).kind, use_documents=documents)
        shared = turn_options.tools_sharing_the_store(tools, experiments)
        # `ExperimentStore` answers several capabilities at once; other sources one at a time.
        variants_for = getattr(experiments, "variants_for", None)
        try:
            if shared is not None and variants_for is not None:
                chosen = variants_for(principal.user_id, (capability, "tools"))
                return chosen[capability], shared.with_variant(chosen["tools"])
            return experiments.variant_for(principal.user_id, capability), turn_options.tools_for_turn(
                tools, principal
            )
        except Exception:  # an experiment must never break a turn: answer as without one
            log.exception("could not read the running experiment")
            return None, turn_options.tools_for_turn(tools, principal)

    async def _stream_chain(
        self, chain: list[Candidate], conversation: Conversation, text: str, route: Route, state: _TurnState
    ) -> AsyncIterator[TurnEvent]:
        """The route's models in order through `in_order` (the one fallback loop); here only what
        a chat turn adds: a request per model, pseudonymization, notices and the user's sentence."""
        failed: list[ChatModel] = []
        hosted_blocked = False

        async def attempt(candidate: Candidate) -> AsyncGenerator[TurnEvent, None]:
            nonlocal hosted_blocked
            model = candidate.model
            if model.kind == "hosted" and route == Route.LOCAL:  # defence in depth
                raise AssertionError("a local-only turn reached a hosted model")
            if model.kind == "hosted" and hosted_blocked:
                raise SkipCandidate()
            request = self._request_for(model, conversation, text, state)
            restorer: Restorer = passthrough_restorer()
            if candidate.pseudonymize:
                try:
                    request, counts = await self._pseudonymize(conversation, request)
                except Exception as exc:
                    # Could not prove the request safe to send: fail closed to the local model.
                    log.warning("pseudonymization refused the hosted call: %s", type(exc).__name__)
                    hosted_blocked, state.outcome = True, "fallback"
                    state.notices.append(PSEUDONYMIZATION_FAILED)
                    yield Notice("fallback", PSEUDONYMIZATION_FAILED)
                    raise SkipCandidate() from exc
                restorer = self._privacy.restorer(conversation.vault)
                state.pseudonymized = counts
            async for event in self._announced(
                self._stream_one(model, request, restorer, state), failed, model, state
            ):
                yield event

        try:
            async for event in self._walk(chain, attempt, failed, state):
                yield event
        except ModelBusy as exc:  # the private model's queue is full: say when to try again
            state.outcome, state.finish_reason = "busy", "error"
            state.answer, state.final_answer = [exc.user_message], None
            yield AnswerDelta(exc.user_message, whole=True)
        except StreamCutOff as exc:  # text was shown: never restarted on another model
            state.outcome, state.finish_reason = "error", "cut_off"
            yield Notice("cut_off", exc.user_message)
        except ModelError as exc:  # every model the route allows failed
            log.warning("no model answered: %s", exc.detail or exc)
            state.outcome, state.finish_reason = "error", "error"
            state.answer, state.final_answer = [_failure_message(exc, route)], None
            yield AnswerDelta(state.answer[0], whole=True)

    async def _walk(
        self,
        chain: list[Candidate],
        attempt: Callable[[Candidate], AsyncGenerator[TurnEvent, None]],
        failed: list[ChatModel],
        state: _TurnState,
    ) -> AsyncIterator[TurnEvent]:
        """`in_order` over the chain on the turn's clock; failures noted, a cut-short answer told."""
        turn = _walk_clock(state)
        walk = in_order(
            chain, attempt, falls_back=_chat_falls_back, turn=turn, warm_request=self._warm_request(state)
        )
        async for item in walk:
            if isinstance(item, FellBack):
                log.warning("model %s failed: %s", item.failed.name, item.error.detail or item.error)
                state.outcome = "fallback"
                failed.append(item.failed)
                continue
            yield item
        if turn is not None and turn.cut_short:  # the fallback was stopped at the answer deadline
            state.notices.append(CUT_SHORT)
            yield Notice("cut_short", CUT_SHORT)

    def _warm_request(self, state: _TurnState) -> ChatRequest:
        """What warms the private model while a hosted one is slow: the turn's configured system
        prompt (never the user's text), so its evaluation is reused by a local fallback."""
        prompt = turn_options.variant_system_prompt(state.variant, self._settings.chat.system_prompt)
        messages = [ChatMessage(role="system", content=prompt), ChatMessage(role="user", content="Hi")]
        return ChatRequest.of(messages, max_tokens=1, temperature=0.0, background=True)

    async def _announced(
        self, events: AsyncIterator[TurnEvent], failed: list[ChatModel], model: ChatModel, state: _TurnState
    ) -> AsyncIterator[TurnEvent]:
        """One fallback notice, naming the model that actually answered, before its first words."""
        announced = not failed
        async for event in events:
            if not announced and isinstance(event, AnswerDelta):
                announced = True
                yield self._fallback_notice(failed, model, state)
            yield event
        if not announced:
            yield self._fallback_notice(failed, model, state)

    @staticmethod
    def _fallback_notice(failed: list[ChatModel], answered_by: ChatModel, state: _TurnState) -> Notice:
        text = _fallback_notice(failed, answered_by)
        state.notices.append(text)
        return Notice("fallback", text)

    async def _pseudonymize(
        self, conversation: Conversation, request: ChatRequest
    ) -> tuple[ChatRequest, dict[str, int]]:
        if conversation.vault is None:
            conversation.vault = self._privacy.new_vault()
        return await run_interactive(self._privacy.pseudonymize, request, conversation.vault)

    async def _stream_one(
        self, model: ChatModel, request: ChatRequest, restorer: Restorer, state: _TurnState
    ) -> AsyncIterator[TurnEvent]:
        raw: list[str] = []
        # Restore placeholders, neutralize images/links/leaks: what streams out is always safe.
        output = AnswerFilter(restorer, self._sanitizer, self._leak_guard, echo_values=state.echo_values)
        try:
            async with closing_stream(model.stream(request)) as stream:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        raw.append(event.text)
                        shown = output.feed(event.text)
                        if shown:
                            state.answer.append(shown)
                            yield AnswerDelta(shown)
                    elif isinstance(event, ToolCallEvent):
                        state.tool_calls.append(event.call)
                    else:
                        state.end = event
                        state.finish_reason = event.finish_reason
            tail = output.flush()
            if tail:
                state.answer.append(tail)
                yield AnswerDelta(tail)
            if state.finish_reason == "repetition":  # the loop guard cut the answer: say so
                state.notices.append(REPETITION_NOTICE)
                yield Notice("repetition", REPETITION_NOTICE)
            state.final_answer = output.final_text()
            state.cleaned = output.cleanup()
            state.calls.append(_call(model, request, raw, state.end, "ok"))
        except BaseException as exc:
            tail = output.flush()
            if tail:
                state.answer.append(tail)
            state.final_answer = output.final_text()
            outcome: Outcome = "cancelled" if not isinstance(exc, Exception) else "error"
            state.calls.append(_call(model, request, raw, None, outcome, error=repr(exc)))
            if not isinstance(exc, Exception):
                state.outcome, state.finish_reason = "cancelled", "cancelled"
            raise

    def _request_for(
        self, model: ChatModel, conversation: Conversation, text: str, state: _TurnState
    ) -> ChatRequest:
        """The turn's request for `model`; in a tool round, with the tool exchange and the tools."""
        request = self._build_request(model, conversation, text, state)
        if state.tool_round is not None and self._services.tools is not None:
            request = self._services.tools.request_for(request, model, state.tool_round)
        return request

    def _build_request(
        self, model: ChatModel, conversation: Conversation, text: str, state: _TurnState
    ) -> ChatRequest:
        chat = self._settings.chat
        limits = self._settings.models.local if model.kind == "local" else self._settings.models.hosted
        reserve = min(limits.max_tokens, chat.answer_reserve_tokens)
        if conversation.answer_cap is not None:  # a caller's cap holds on every route and fallback
            reserve = max(1, min(reserve, conversation.answer_cap))
        system_prompt = turn_options.variant_system_prompt(state.variant, chat.system_prompt)
        system = ChatMessage(role="system", content=system_prompt)
        user = ChatMessage(role="user", content=text)
        knowledge = self._services.knowledge
        if knowledge is not None and state.retrieval.answerable:
            system, user, state.sources = grounded_request_parts(
                knowledge, text, state.retrieval, count_tokens=model.count_tokens, system=system_prompt
            )
        fitted = fit_messages(
            [system],
            conversation.history,
            user,
            context_window=model.context_window,
            answer_reserve=reserve,
            count=model.count_tokens,
            max_history_turns=chat.max_history_turns,
        )
        if fitted.dropped_turns and "history_trimmed" not in state.notices:
            state.notices.append("history_trimmed")
        return ChatRequest.of(
            fitted.messages,
            max_tokens=reserve,
            temperature=limits.temperature,
            requester=conversation.principal.user_id,  # the private model's queue takes turns by user
        )

    def _finish(
        self,
        conversation: Conversation,
        text: str,
        decision: GateDecision,
        route: Route,
        state: _TurnState,
        turn: TurnClock,
    ) -> TurnResult:
        end, tier = state.end, decision.tier
        streamed = state.final_answer if state.final_answer is not None else "".join(state.answer)
        if state.final_answer is not None and persona_answer(streamed):
            # The model slipped into a jailbreak persona: show nothing of it.
            streamed, state.outcome, state.escalate = BLOCKED_MESSAGE, "blocked", "policy_block"
        answer = self._check_sources(streamed, state, text, conversation)
        answered = state.outcome in ("ok", "fallback", "cancelled") and end is not None
        state.escalate = state.escalate or auto_escalation(
            state.outcome, blocked_by_policy=False, failures_before=failures_in_a_row(conversation.history)
        )
        self._escalate(conversation, text, state, tier)
        if not state.cached:
            self._charge(conversation, end)
        self._remember_answer(answer, tier, state)
        receipt = Receipt.of(
            decision, route=route, pseudonymized=state.pseudonymized, end=end, cleaned=state.cleaned
        )
        # Taint sticks to the conversation even when the turn failed: the message was sent.
        conversation.tier = highest(conversation.tier, tier)
        conversation.tainted_by = list(decision.tainted_by)
        conversation.remember(text, answer if answered else "")
        return TurnResult(
            answer=answer,
            outcome=state.outcome,
            route=end.kind if end else "none",
            model=end.model if end else "",
            usage=end.usage if end else Usage(),
            latency_ms=turn.ms(),
            ttft_ms=end.ttft_ms if end else None,
            finish_reason=state.finish_reason,
            receipt=receipt,
            sources=state.refs,
            confidence=state.confidence,
            notices=tuple(n for n in state.notices if n != "history_trimmed"),
            escalation_id=state.escalation_id,
            cached=state.cached,
            variant=state.variant,
            tools_variant=state.tools_variant,
            timing=turn.split(),
        )

    def _check_sources(self, answer: str, state: _TurnState, text: str, conversation: Conversation) -> str:
        """Drop citations to sources that do not exist; check the answer against its passages;
        the badge is the weaker of retrieval and answer support (a low badge opens no ticket)."""
        knowledge = self._services.knowledge
        if knowledge is None or not state.sources:
            return answer
        report = knowledge.check_citations(attribute_citations(answer, state.sources), state.sources)
        state.refs = source_refs(state.sources, report)
        state.confidence = answer_confidence_view(
            knowledge,
            state.retrieval,
            report.answer,
            state.sources,
            question=text,
            history=conversation.history,
        )
        return report.answer

    def _escalate(self, conversation: Conversation, text: str, state: _TurnState, tier: Tier) -> None:
        escalations = self._services.escalations
        if state.escalate is None or escalations is None:
            return
        try:
            state.escalation_id = escalations.open_escalation(
                thread_id=conversation.id,
                user_id=conversation.principal.user_id,
                reason=state.escalate,
                detail=ticket_detail(text, tier, state.outcome),
            )
        except Exception:  # the user still gets their answer; the failure goes to the log
            log.exception("could not open an escalation")

    def _charge(self, conversation: Conversation, end: StreamEnd | None) -> None:
        budgets = self._services.budgets
        if budgets is None or end is None:
            return
        usage = end.usage
        cost = call_cost(
            self._settings,
            kind=end.kind,
            model=end.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
        budgets.charge(conversation.principal, tokens=end.usage.total_tokens, cost_usd=cost)

    def _notify(
        self, conversation: Conversation, text: str, result: TurnResult, calls: Sequence[CallRecord]
    ) -> None:
        for observer in self._observers:
            try:
                observer.on_turn(conversation, text, result, calls)
            except Exception:  # an observer must never break the user's turn
                log.exception("turn observer %r failed", observer)


def _call(
    model: ChatModel,
    request: ChatRequest,
    raw: list[str],
    end: StreamEnd | None,
    outcome: Outcome,
    *,
    error: str = "",
) -> CallRecord:
    return call_record(model, request, "".join(raw), end, outcome, error=error)


def call_cost(
    settings: Settings, *, kind: str, model: str, prompt_tokens: int, completion_tokens: int
) -> float:
    """USD for one call from the per-model prices in settings; the local model costs nothing."""
    from assistant.governance.audit import estimate_cost

    if kind == "local":
        return 0.0
    return estimate_cost(model, prompt_tokens, completion_tokens, settings.models.hosted.prices_per_mtok)


def _added(total: Usage, more: Usage) -> Usage:
    return Usage(
        prompt_tokens=total.prompt_tokens + more.prompt_tokens,
        completion_tokens=total.completion_tokens + more.completion_tokens,
        source=more.source,
    )


def _gate_message(privacy: Privacy, text: str) -> tuple[GateDecision, list[str]]:
    """The message's decision and, for a regulated one, the values its answer must not echo, in
    one thread hop (each hop waits for a worker: milliseconds under load)."""
    decision = privacy.assess(text, source="message")
    return decision, values_to_mask(privacy, text) if decision.tier == Tier.REGULATED else []


def _walk_clock(state: _TurnState) -> TurnClock | None:
    """One budget per turn: the first walk of the chain runs on the turn's clock; a later tool
    round gets a hosted window of its own and is never cut short (its spans still go into the
    turn's record)."""
    state.walks += 1
    if state.turn is None or state.walks == 1:
        return state.turn
    return state.turn.for_round()


def _chat_falls_back(error: ModelError) -> bool:
    """A busy private model is not a failure to route around: the user is told when to retry."""
    return not isinstance(error, ModelBusy)


def _fallback_notice(failed: list[ChatModel], answered_by: ChatModel) -> str:
    names = ", ".join(dict.fromkeys(model.name for model in failed))
    where = (
        "the private local model" if answered_by.kind == "local" else f"the hosted model {answered_by.name}"
    )
    return f"{names} {'is' if len(failed) == 1 else 'are'} unavailable right now; answered by {where}."


def _failure_message(exc: ModelError, route: Route) -> str:
    base = exc.user_message
    if route == Route.LOCAL:
        return (
            f"{base} This conversation contains information that must stay on this machine, "
            "so I did not send it anywhere else. Please try again in a moment, or ask for a person."
        )
    return f"{base} Please try again in a moment."
