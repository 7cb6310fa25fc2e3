"""Map → reduce logic with scripted models: grouping, per-group routing, citation checks, fallbacks."""

from __future__ import annotations

import asyncio
import json

import pytest

from assistant.pipeline import ModelSet
from assistant.uploads.citing import attach_ref, normalize_ref, strip_markers
from assistant.uploads.plan import MapGroup, build_excerpt, plan_groups
from assistant.uploads.rendering import md_escape, receipt_writers, render_summary, split_summary
from assistant.uploads.routed_calls import TierRouter
from assistant.uploads.settings import UploadSettings
from assistant.uploads.summarize import MapResult, Summarizer
from knowledge.parsing.documents import Section
from models.base import ChatRequest, ModelUnavailable
from models.fakes import FunctionModel
from routing.routed import CallRecord
from routing.tiers import Tier
from tests.support.privacy import ScriptedPrivacy

PAGES = [
    "The Aurora project builds a solar farm near Lyon. Construction starts in March with forty workers.",
    "The budget of the Aurora project is twelve million euros. Funding comes from three regional banks.",
    "Patient Zed Quillfeather has SSN 078-05-1120. His diagnosis is confidential medical information.",
]


def sections(texts: list[str] = PAGES) -> list[Section]:
    out, cursor = [], 0
    for number, text in enumerate(texts, start=1):
        out.append(Section(text=text, start=cursor, end=cursor + len(text), page=number))
        cursor += len(text) + 2
    return out


def KeywordPrivacy() -> ScriptedPrivacy:
    return ScriptedPrivacy(internal_word="budget", value="Aurora", entity="PROJECT")


def echo_points(request: ChatRequest) -> str:
    """A well-behaved model: quotes the first sentence under each [ref] header as a JSON point."""
    prompt = request.messages[-1].content
    if "Key points" in prompt:
        return "The document describes the Aurora project and its budget of twelve million euros."
    body = prompt.split("<document>")[1].split("</document>")[0]
    points = []
    for block in body.strip().split("\n\n"):
        header, _, text = block.partition("\n")
        points.append({"text": text.split(". ")[0] + ".", "ref": header.strip("[]")})
    return json.dumps({"points": points})


def summarizer(local, hosted=(), **overrides) -> tuple[Summarizer, TierRouter]:  # type: ignore[no-untyped-def]
    settings = UploadSettings(structured_reasks=0, **overrides)
    router = TierRouter(
        ModelSet(local=local, hosted=list(hosted)), KeywordPrivacy(), max_calls=settings.max_model_calls
    )
    return Summarizer(router, settings, lambda text: len(text.split())), router


async def run(s: Summarizer, secs: list[Section], tiers: list[Tier]):  # type: ignore[no-untyped-def]
    groups = plan_groups(secs, tiers, 12)
    done: list[object] = []

    async def progress(done_: int, total: int, label: str) -> None:
        return None

    async def step_done(result: object) -> None:
        done.append(result)

    summary = await s.summarize(
        title="Aurora",
        sections=secs,
        groups=groups,
        meta_tier=Tier.PUBLIC,
        finished={},
        progress=progress,
        step_done=step_done,
    )
    return summary, groups, done


# -- plan and citations ------------------------------------------------------------------------


def test_groups_are_bounded_and_never_mix_tiers_needlessly() -> None:
    secs = sections([f"Page {i} talks about topic {i}. " * 20 for i in range(1, 101)])
    tiers = [Tier.REGULATED if i == 41 else Tier.PUBLIC for i in range(1, 101)]
    groups = plan_groups(secs, tiers, 12)
    assert len(groups) <= 12
    assert [i for g in groups for i in g.section_indexes] == list(range(100))
    regulated = [g for g in groups if g.tier == Tier.REGULATED]
    # The regulated page may pull neighbours local, but never goes to a group labelled public.
    assert any(40 in g.section_indexes for g in regulated)
    assert all(40 not in g.section_indexes for g in groups if g.tier != Tier.REGULATED)


def test_single_group_per_tier_when_budget_is_one() -> None:
    groups = plan_groups(sections(), [Tier.PUBLIC, Tier.INTERNAL, Tier.REGULATED], 1)
    assert len(groups) == 1 and groups[0].tier == Tier.REGULATED and groups[0].label == "pages 1–3"


def test_excerpt_keeps_every_page_within_budget() -> None:
    secs = sections(
        [f"Sentence one of page {i}. Sentence two of page {i}. Sentence three." for i in range(1, 6)]
    )
    excerpt = build_excerpt(secs, [f"p. {i}" for i in range(1, 6)], 40, lambda t: len(t.split()))
    assert all(f"[p. {i}]" in excerpt for i in range(1, 6))
    assert "Sentence three" not in excerpt


def test_reference_normalization_and_marker_stripping() -> None:
    assert normalize_ref("page 3") == normalize_ref("[p3]") == normalize_ref("P. 3") == "p. 3"
    assert strip_markers("Costs rose [p. 2] and fell [p. 99].", {"p. 2"}) == "Costs rose [p. 2] and fell."


def test_a_point_keeps_only_a_real_supporting_reference() -> None:
    sources = {"p. 1": PAGES[0], "p. 2": PAGES[1]}
    point = "The budget of the Aurora project is twelve million euros."
    assert attach_ref(point, "p. 2", sources, 0.5) == "p. 2"
    assert attach_ref(point, "p. 7", sources, 0.5) == "p. 2"  # invented page: re-attached to the real one
    assert attach_ref("Bananas are yellow and tasty fruit.", "p. 1", sources, 0.5) is None


def test_names_cannot_inject_markdown() -> None:
    assert "](" not in md_escape("[x](https://evil.example/a.png)")


# -- routing per group -------------------------------------------------------------------------


async def test_each_map_call_is_routed_by_its_own_group_tier() -> None:
    local = FunctionModel(echo_points, name="local-fake", kind="local")
    hosted = FunctionModel(echo_points, name="hosted-fake", kind="hosted")
    s, _ = summarizer(local, [hosted])
    summary, groups, _ = await run(s, sections(), [Tier.PUBLIC, Tier.INTERNAL, Tier.REGULATED])
    assert [g.tier for g in groups] == [Tier.PUBLIC, Tier.INTERNAL, Tier.REGULATED]
    sent_hosted = "\n".join(m.content for r in hosted.requests for m in r.messages)
    assert "078-05-1120" not in sent_hosted and "Quillfeather" not in sent_hosted
    assert "<PROJECT_1>" in sent_hosted and "budget" in sent_hosted  # internal went pseudonymized
    assert any("078-05-1120" in m.content for r in local.requests for m in r.messages)
    # The reduce step carries regulated points, so it runs locally too.
    assert "Key points" in local.requests[-1].messages[-1].content
    assert {p.ref for p in summary.points} == {"p. 1", "p. 2", "p. 3"}
    assert all(p.origin == "model" for p in summary.points)
    assert "Aurora" in summary.points[0].text  # placeholders restored


async def test_hosted_failure_falls_back_to_local_but_regulated_never_goes_hosted() -> None:
    local = FunctionModel(lambda r: ModelUnavailable("down"), name="local-fake", kind="local")
    hosted = FunctionModel(lambda r: ModelUnavailable("down"), name="hosted-fake", kind="hosted")
    s, _ = summarizer(local, [hosted])
    summary, _, _ = await run(s, sections(), [Tier.PUBLIC, Tier.PUBLIC, Tier.REGULATED])
    assert all("078-05-1120" not in m.content for r in hosted.requests for m in r.messages)
    assert len(local.requests) >= 2  # the public group fell back to local after hosted failed
    # Nothing could answer: every point is a quote from its own page, and says so.
    assert summary.points and all(p.origin == "quote" for p in summary.points)
    assert summary.overview is None


async def test_garbage_output_degrades_to_checked_plain_text_or_quotes() -> None:
    replies = iter(["}}} not json", "Bananas grow on trees in the tropics."] * 5)
    local = FunctionModel(lambda r: next(replies), name="tiny", kind="local")
    s, router = summarizer(local)
    summary, groups, _ = await run(s, sections(PAGES[:2]), [Tier.PUBLIC, Tier.PUBLIC])
    assert all(p.origin == "quote" for p in summary.points)
    assert {p.ref for p in summary.points} <= {"p. 1", "p. 2"}
    assert router.calls_made <= 2 * len(groups) + 1
    text = render_summary(summary, display_name="a.pdf", pages=2, local_model="tiny")
    assert "quoted from the document" in text


async def test_model_calls_are_bounded_by_the_budget() -> None:
    local = FunctionModel(lambda r: "no json here at all", name="tiny", kind="local")
    s, router = summarizer(local, max_model_calls=3)
    secs = sections([f"Topic {i} is explained on this page in some detail." for i in range(1, 30)])
    summary, groups, _ = await run(s, secs, [Tier.PUBLIC] * len(secs))
    assert len(groups) == 12 and router.calls_made <= 3
    assert len(summary.points) >= 12  # quotes fill in where the budget ran out


async def test_invented_citation_never_reaches_the_summary() -> None:
    reply = json.dumps(
        {"points": [{"text": "The farm has a budget of twelve million euros.", "ref": "p. 42"}]}
    )
    local = FunctionModel(
        lambda r: reply if "<document>" in r.messages[-1].content else "Nothing.", kind="local"
    )
    s, _ = summarizer(local)
    summary, _, _ = await run(s, sections(PAGES[:2]), [Tier.PUBLIC, Tier.PUBLIC])
    assert "p. 42" not in {p.ref for p in summary.points}


@pytest.mark.parametrize("tier", [Tier.REGULATED])
def test_candidates_for_regulated_are_local_only(tier: Tier) -> None:
    local = FunctionModel(lambda r: "x", kind="local")
    hosted = FunctionModel(lambda r: "x", kind="hosted")
    router = TierRouter(ModelSet(local=local, hosted=[hosted]), KeywordPrivacy(), max_calls=5)
    assert [c.model.kind for c in router.candidates(tier)] == ["local"]
    assert [c.model.kind for c in router.candidates(Tier.PUBLIC)] == ["hosted", "local"]


def test_invented_names_or_numbers_make_a_point_unsupported() -> None:
    sources = {"p. 1": PAGES[0]}
    assert attach_ref("The Aurora project builds a solar farm near Greenfield.", "p. 1", sources, 0.5) is None
    assert attach_ref("The Aurora project builds a solar farm near Lyon.", "p. 1", sources, 0.5) == "p. 1"


# -- batching and concurrent hosted maps --------------------------------------------------------


class InFlightModel(FunctionModel):
    """A scripted model that records how many of its calls were running at the same moment."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.now = 0
        self.peak = 0

    async def stream(self, request: ChatRequest):  # type: ignore[no-untyped-def,override]
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            for _ in range(5):  # yield to the loop: a sibling step may start meanwhile
                await asyncio.sleep(0)
            async for event in super().stream(request):
                yield event
        finally:
            self.now -= 1


def words(text: str) -> int:
    return len(text.split())


def test_short_sections_of_one_tier_share_a_map_step_up_to_the_budget() -> None:
    secs = sections([f"Page {i} says something short about topic {i}." for i in range(1, 9)])
    tiers = [Tier.PUBLIC] * 4 + [Tier.REGULATED] + [Tier.PUBLIC] * 3
    before = plan_groups(secs, tiers, 12, count_tokens=words)
    after = plan_groups(secs, tiers, 12, fill_tokens=900, count_tokens=words)
    assert len(before) == 8
    # Batched up to the budget, but a tier change still starts a new step.
    assert [g.section_indexes for g in after] == [(0, 1, 2, 3), (4,), (5, 6, 7)]
    assert [g.tier for g in after] == [Tier.PUBLIC, Tier.REGULATED, Tier.PUBLIC]
    # The budget bounds a batch: 8-word pages, 20 tokens at most -> two pages per step.
    small = plan_groups(secs[:4], tiers[:4], 12, fill_tokens=20, count_tokens=words)
    assert [g.section_indexes for g in small] == [(0, 1), (2, 3)]


async def test_hosted_maps_run_concurrently_and_regulated_maps_stay_local_one_at_a_time() -> None:
    local = InFlightModel(echo_points, name="local-fake", kind="local")
    hosted = InFlightModel(echo_points, name="hosted-fake", kind="hosted")
    records: list[CallRecord] = []
    settings = UploadSettings(structured_reasks=0, hosted_map_concurrency=3)
    router = TierRouter(
        ModelSet(local=local, hosted=[hosted]), KeywordPrivacy(), max_calls=30, on_call=records.append
    )
    s = Summarizer(router, settings, words)
    # Pages of different lengths, so each call's prompt size is its own.
    pages = (f"Page {i} of the Aurora plan covers item {i}{' in much more detail' * i}." for i in range(1, 7))
    texts = [*pages, PAGES[2], PAGES[2]]
    tiers = [Tier.PUBLIC] * 6 + [Tier.REGULATED] * 2
    secs = sections(texts)
    # One step per page (what plan_groups gives without batching): something to overlap.
    groups = [
        MapGroup(index=i, section_indexes=(i,), refs=(f"p. {i + 1}",), tier=tier)
        for i, tier in enumerate(tiers)
    ]
    finished: list[int] = []

    async def progress(done: int, total: int, label: str) -> None:
        return None

    async def step_done(result: MapResult) -> None:
        finished.append(result.index)

    summary = await s.summarize(
        title="Aurora", sections=secs, groups=groups, meta_tier=Tier.PUBLIC, finished={},
        progress=progress, step_done=step_done,
    )  # fmt: skip
    assert 1 < hosted.peak <= 3  # concurrent, within the bound
    assert local.peak == 1  # regulated steps one after another on the local worker
    wire = "\n".join(m.content for r in hosted.requests for m in r.messages)
    assert "078-05-1120" not in wire and "Quillfeather" not in wire
    assert sorted(finished) == list(range(8))
    # Points come back in document order whatever order the steps finished in.
    assert [p.ref for p in summary.points][:6] == [f"p. {i}" for i in range(1, 7)]
    # Each call's record carries its own usage, never a sibling's.
    maps = [r for r in records if r.step.startswith("map")]
    assert len(maps) == 8
    calls = [(hosted, r) for r in hosted.requests] + [(local, r) for r in local.requests[:2]]
    sent = sorted(sum(model.count_tokens(m.content) for m in r.messages) for model, r in calls)
    assert sorted(r.usage_prompt for r in maps) == sent


async def test_a_resumed_job_runs_only_the_steps_it_had_not_finished() -> None:
    hosted = FunctionModel(echo_points, name="hosted-fake", kind="hosted")
    local = FunctionModel(echo_points, name="local-fake", kind="local")
    s, _ = summarizer(local, [hosted])
    secs = sections(PAGES[:2])
    groups = plan_groups(secs, [Tier.PUBLIC, Tier.PUBLIC], 12)
    first = await s.map_group(groups[0], secs)

    async def progress(done: int, total: int, label: str) -> None:
        return None

    async def step_done(result: MapResult) -> None:
        return None

    await s.summarize(
        title="Aurora", sections=secs, groups=groups, meta_tier=Tier.PUBLIC, finished={0: first},
        progress=progress, step_done=step_done,
    )  # fmt: skip
    mapped = [r for r in hosted.requests if "<document>" in r.messages[-1].content]
    assert len(mapped) == 2  # the one map_group call above, then only group 1
    assert "[p. 2]" in mapped[-1].messages[-1].content

    # A step stored under an older plan (other pages at the same index) is redone, not trusted.
    batched = plan_groups(secs, [Tier.PUBLIC, Tier.PUBLIC], 12, fill_tokens=900, count_tokens=words)
    assert len(batched) == 1 and batched[0].refs == ("p. 1", "p. 2")
    await s.summarize(
        title="Aurora", sections=secs, groups=batched, meta_tier=Tier.PUBLIC, finished={0: first},
        progress=progress, step_done=step_done,
    )  # fmt: skip
    mapped = [r for r in hosted.requests if "<document>" in r.messages[-1].content]
    assert len(mapped) == 3 and "[p. 1]" in mapped[-1].messages[-1].content


async def test_the_receipt_says_who_actually_wrote_each_section() -> None:
    local = FunctionModel(echo_points, name="local-fake", kind="local")
    hosted = FunctionModel(echo_points, name="hosted-fake", kind="hosted")
    s, _ = summarizer(local, [hosted])
    secs = sections()
    summary, _, _ = await run(s, secs, [Tier.PUBLIC, Tier.INTERNAL, Tier.REGULATED])
    text = render_summary(summary, display_name="a.pdf", pages=3, local_model="local-fake", sections=secs)
    facts = split_summary(text).receipt
    assert (facts["steps_hosted"], facts["steps_local"], facts["steps_quote"]) == (2, 1, 0)
    said = receipt_writers(facts, "regulated")
    assert "the hosted model (2 of 3 sections)" in said
    assert "2 hosted model calls, personal data pseudonymized" in said
    assert "local-fake on this machine (1 of 3 sections)" in said
    assert "nothing left" not in said

    s, _ = summarizer(FunctionModel(echo_points, name="local-fake", kind="local"))
    summary, _, _ = await run(s, secs, [Tier.PUBLIC, Tier.PUBLIC, Tier.REGULATED])
    facts = split_summary(
        render_summary(summary, display_name="a.pdf", pages=3, local_model="x", sections=secs)
    ).receipt
    assert facts["steps_hosted"] == 0 and receipt_writers(facts, "regulated").endswith(
        "nothing left this machine"
    )
    # A hosted answer that could not be used still means the pages were sent: never "nothing left".
    unusable = FunctionModel(lambda r: "no json, no sentences", name="hosted-fake", kind="hosted")
    s, _ = summarizer(FunctionModel(echo_points, name="local-fake", kind="local"), [unusable])
    summary, _, _ = await run(s, secs[:2], [Tier.PUBLIC, Tier.PUBLIC])
    stored = render_summary(summary, display_name="a.pdf", pages=2, local_model="x", sections=secs)
    facts = split_summary(stored).receipt
    said = receipt_writers(facts, "public")
    assert int(facts["steps_quote"]) >= 1 and int(facts["hosted_calls"]) >= 1
    assert "nothing left" not in said and "hosted model call" in said
    # A summary stored before the counts existed keeps the old wording.
    assert "may go to a hosted model" in receipt_writers({"local_model": "x"}, "public")
