"""The tool catalog: the registry's permission rule, the admin's TOML file, and the built-ins.

Real components throughout: a real knowledge base (Chroma and SQLite in a temp dir; the hashing
embedder, since what is tested is the ACL, not ranking), the real escalation table, a real HTTP
API on loopback and a real MCP server over stdio for the catalog file.
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from assistant.governance.db import open_database
from assistant.governance.escalations import Escalations
from assistant.governance.settings import GovernanceSettings
from assistant.settings import SettingsError, load_settings
from assistant.tools.base import ToolContext, ToolResult, ToolSpec
from assistant.tools.builtin import (
    AskAPersonArguments,
    AskAPersonTool,
    CurrentDateArguments,
    CurrentDateTool,
    ReadDocumentSectionTool,
    ReadSectionArguments,
    SearchDocumentsArguments,
    SearchDocumentsTool,
    builtin_tools,
)
from assistant.tools.catalog import CatalogError, load_catalog
from assistant.tools.catalog_settings import ToolCatalogSettings
from assistant.tools.catalog_tools import build_tool_registry
from assistant.tools.registry import ToolRegistry, ToolRegistryError, UnknownToolError
from knowledge.access import Principal
from knowledge.knowledge_base import KnowledgeBase
from knowledge.testing import HashingEmbedder
from routing.tiers import Tier
from tests.support.tool_server import running_tool_server

REPO = Path(__file__).resolve().parent.parent
ALICE = Principal(user_id="alice", groups=frozenset({"hr"}))
FRANK = Principal(user_id="frank", groups=frozenset({"finance"}))
ROOT = Principal(user_id="root", role="admin")


class _Arguments(BaseModel):
    pass


class _Tool:
    def __init__(self, name: str, **spec) -> None:
        self.spec = ToolSpec(name=name, description=name, arguments=_Arguments, **spec)

    async def run(self, arguments: BaseModel, context: ToolContext) -> ToolResult:
        return ToolResult(content="ok")


@dataclass(frozen=True)
class _Decision:
    tier: Tier
    failed_closed: bool = False


class _Gate:
    """A scripted gate for the ticket text: an SSN is regulated; it can fail or fail closed."""

    def __init__(self, *, broken: bool = False, failed_closed: bool = False) -> None:
        self.broken, self.failed_closed = broken, failed_closed

    def assess(self, text: str, *, source: str) -> _Decision:
        if self.broken:
            raise RuntimeError("gate down")
        tier = Tier.REGULATED if "SSN" in text else Tier.INTERNAL
        return _Decision(Tier.PUBLIC if self.failed_closed else tier, self.failed_closed)


# -- the registry ------------------------------------------------------------------------------


def test_offered_tools_follow_groups_and_the_turns_tier() -> None:
    registry = ToolRegistry(
        [
            _Tool("everyone"),
            _Tool("payroll", groups=frozenset({"finance", "hr"})),
            _Tool("public_only", max_argument_tier=Tier.PUBLIC),
            _Tool("anything", max_argument_tier=Tier.REGULATED),
        ]
    )
    names = lambda principal, tier: [t.spec.name for t in registry.offered_to(principal, tier)]  # noqa: E731
    assert names(ALICE, Tier.PUBLIC) == ["everyone", "payroll", "public_only", "anything"]
    assert names(Principal(user_id="bob", groups=frozenset({"eng"})), Tier.PUBLIC) == [
        "everyone",
        "public_only",
        "anything",
    ]
    assert names(ALICE, Tier.INTERNAL) == ["everyone", "payroll", "anything"]
    assert names(ALICE, Tier.REGULATED) == ["anything"]
    assert names(ALICE, "no-such-tier") == ["anything"]  # an unknown tier counts as regulated
    assert names(ROOT, Tier.PUBLIC) == ["everyone", "public_only", "anything"]  # no admin bypass


def test_call_time_permission_says_why() -> None:
    registry = ToolRegistry([_Tool("payroll", groups=frozenset({"finance"}))])
    assert registry.permits("payroll", FRANK, Tier.INTERNAL).allowed
    refusal = registry.permits("payroll", ALICE, Tier.PUBLIC)
    assert not refusal.allowed and refusal.refusal == "group" and "groups" in refusal.reason
    assert registry.permits("payroll", FRANK, Tier.REGULATED).refusal == "tier"
    assert registry.permits("nope", FRANK, Tier.PUBLIC).refusal == "not_found"


def test_names_are_unique_and_lookups_are_typed() -> None:
    registry = ToolRegistry([_Tool("a")])
    with pytest.raises(ToolRegistryError, match="already registered"):
        registry.add(_Tool("a"))
    with pytest.raises(ToolRegistryError, match="not a Tool"):
        registry.add(object())  # type: ignore[arg-type]
    with pytest.raises(UnknownToolError, match="no tool named 'b'"):
        registry.get("b")
    assert registry.get("a").spec.name == "a" and "a" in registry and len(registry) == 1


# -- the catalog file --------------------------------------------------------------------------


def _catalog(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tools.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[http_tool]\nname = 'x'\n", "not valid TOML: .*line 1"),
        (
            """
            [[http_tool]]
            name = "ok"
            description = "d"
            url = "https://a.example/x"

            [[http_tool]]
            name = "rates"
            description = "d"
            """,
            r"line 6 \(\[\[http_tool\]\] 'rates'\) field url: Field required",
        ),
        (
            """
            [[http_tool]]
            name = "rates"
            description = "d"
            url = "https://a.example/x"
            headers = { Authorization = "Bearer sk-123" }
            """,
            "field headers: .*Authorization looks like a credential.*secret_headers",
        ),
        (
            """
            [[http_tool]]
            name = "rates"
            description = "d"
            url = "https://{host}.example/x"
            arguments = { type = "object", required = ["host"], properties.host = { type = "string" } }
            """,
            "field url: .*not the host",
        ),
        (
            """
            [[http_tool]]
            name = "rates"
            description = "d"
            url = "https://user:pw@a.example/x"
            """,
            "field url: must not carry a user or password",
        ),
        (
            """
            [[http_tool]]
            name = "rates"
            description = "d"
            url = "https://a.example/{currency}"
            """,
            r"url placeholder \{currency\} must be a required argument",
        ),
        (
            """
            [[http_tool]]
            name = "rates"
            description = "d"
            url = "https://a.example/x"
            max_argument_tier = "regulated"
            """,
            "field max_argument_tier: an external tool never receives regulated data",
        ),
        (
            """
            [[http_tool]]
            name = "rates"
            description = "d"
            url = "https://a.example/x"
            arguments = { type = "object", properties.when = { type = "date" } }
            """,
            r"line 1 \(\[\[http_tool\]\] 'rates'\): arguments.properties.when: unsupported type 'date'",
        ),
        (
            """
            [[mcp_server]]
            name = "files"
            transport = "stdio"
            """,
            r"\[\[mcp_server\]\] 'files'\) field \(the entry\): a stdio server needs command",
        ),
        (
            """
            [[mcp_server]]
            name = "a"
            transport = "stdio"
            command = "x"

            [[mcp_server]]
            name = "a"
            transport = "stdio"
            command = "y"
            """,
            r"line 6 \(\[\[mcp_server\]\] 'a'\): the name is used twice",
        ),
        ("[[htp_tool]]\nname = 'x'\n", "field htp_tool: Extra inputs are not permitted"),
    ],
)
def test_a_malformed_catalog_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = _catalog(tmp_path, text)
    with pytest.raises(CatalogError, match=message) as raised:
        load_catalog(path)
    assert str(raised.value).startswith(str(path)) and "\n" not in str(raised.value)
    # No chained parser/pydantic error behind the line: the admin sees one sentence.
    error = raised.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_a_missing_catalog_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read the tool catalog"):
        load_catalog(tmp_path / "absent.toml")


FINANCE_CATALOG = """
[[http_tool]]
name = "exchange_rate"
description = "Today's exchange rate of a currency against the euro."
url = "{base}/rates/{{currency}}"
groups = ["finance"]
max_argument_tier = "internal"
result_tier = "internal"
[http_tool.secret_headers.Authorization]
env = "CONFIDANTE_TEST_RATES_TOKEN"
prefix = "Bearer "
[http_tool.arguments]
type = "object"
required = ["currency"]
properties.currency = {{ type = "string", pattern = "^[A-Z]{{3}}$" }}

[[mcp_server]]
name = "helper"
transport = "stdio"
command = "{python}"
args = ["-m", "tests.support.mcp_server"]
cwd = "{repo}"
tools = ["add"]
side_effects = false
"""


@pytest.mark.slow
async def test_finance_tool_is_offered_only_to_finance(tmp_path: Path) -> None:
    with running_tool_server() as server:
        text = FINANCE_CATALOG.format(base=server.base_url, python=sys.executable, repo=REPO)
        settings = ToolCatalogSettings(path=_catalog(tmp_path, text))
        builtins = builtin_tools(knowledge=None, escalations=None, classifier=_Gate())
        registry, problems = await build_tool_registry(
            settings, builtins, environ={"CONFIDANTE_TEST_RATES_TOKEN": "tok"}
        )
        assert problems == []
        assert registry.names == ["calculator", "current_date", "exchange_rate", "helper_add"]
        offered = lambda who: [t.spec.name for t in registry.offered_to(who, Tier.INTERNAL)]  # noqa: E731
        assert "exchange_rate" in offered(FRANK)
        assert "exchange_rate" not in offered(ALICE) and "exchange_rate" not in offered(ROOT)
        assert registry.permits("exchange_rate", ALICE, Tier.INTERNAL).refusal == "group"

        rates = registry.get("exchange_rate")
        result = await rates.run(rates.spec.arguments(currency="USD"), ToolContext(principal=FRANK))
        assert not result.is_error and server.requests[-1].headers["authorization"] == "Bearer tok"
        helper = registry.get("helper_add")
        assert (
            await helper.run(helper.spec.arguments(a=1, b=1), ToolContext(principal=ALICE))
        ).content == "2"


async def test_a_missing_secret_stops_start_up(tmp_path: Path) -> None:
    text = FINANCE_CATALOG.split("[[mcp_server]]")[0].format(base="https://rates.example")
    settings = ToolCatalogSettings(path=_catalog(tmp_path, text))
    with pytest.raises(CatalogError, match="needs the environment variable CONFIDANTE_TEST_RATES_TOKEN"):
        await build_tool_registry(settings, [], environ={})


async def test_an_unreachable_mcp_server_is_left_out_or_stops_start_up(tmp_path: Path) -> None:
    text = (
        f'[[mcp_server]]\nname = "down"\ntransport = "stdio"\ncommand = "{sys.executable}"\n'
        'args = ["-c", "pass"]\n'
    )
    path = _catalog(tmp_path, text)
    registry, problems = await build_tool_registry(ToolCatalogSettings(path=path), [_Tool("a")], environ={})
    assert registry.names == ["a"] and len(problems) == 1
    assert problems[0].startswith("MCP server down: could not list its tools")
    with pytest.raises(CatalogError, match="MCP server down"):
        await build_tool_registry(
            ToolCatalogSettings(path=path, skip_unreachable_mcp_servers=False), [], environ={}
        )


def test_the_catalog_path_is_a_setting(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, tool_catalog={"path": str(tmp_path / "tools.toml")})
    assert settings.tool_catalog.path == tmp_path / "tools.toml"
    assert load_settings(data_dir=tmp_path).tool_catalog.path is None
    with pytest.raises(SettingsError, match=r"invalid setting tool_catalog\.timezone"):
        load_settings(data_dir=tmp_path, tool_catalog={"timezone": "Mars/Olympus"})


# -- built-ins ---------------------------------------------------------------------------------


@pytest.fixture
def knowledge(data_dir: Path, tmp_path: Path) -> KnowledgeBase:
    settings = load_settings(data_dir=data_dir)
    engine = open_database(GovernanceSettings(), data_dir)
    kb = KnowledgeBase(settings, engine, lambda _t: Tier.INTERNAL, embedder=HashingEmbedder())
    hr = tmp_path / "leave.md"
    hr.write_text(
        "# Leave policy\n\nParental leave is 16 weeks at full pay.\n\n"
        "# Sick leave\n\nSick leave needs a note after 3 days.\n"
    )
    pay = tmp_path / "payroll.md"
    pay.write_text("# Payroll\n\nSalaries are paid on the 25th. Parental leave pay comes from payroll.\n")
    kb.ingest_file(hr, owner="admin", groups=["hr"])
    kb.ingest_file(pay, owner="admin", groups=["finance"])
    return kb


async def test_search_documents_cites_only_what_the_caller_may_read(knowledge: KnowledgeBase) -> None:
    tool = SearchDocumentsTool(knowledge)
    arguments = SearchDocumentsArguments(query="parental leave pay", k=5)
    result = await tool.run(arguments, ToolContext(principal=ALICE))
    assert result.data is not None
    titles = {p["title"] for p in result.data["passages"]}
    assert titles == {"Leave policy"}
    assert "16 weeks" in result.content and "Payroll" not in result.content and "25th" not in result.content
    first = result.data["passages"][0]
    assert first["doc_id"] in result.content and first["location"] and result.data["tier"] == "internal"
    outsider = await tool.run(arguments, ToolContext(principal=Principal(user_id="eve")))
    assert outsider.data is None and "No passage" in outsider.content


async def test_search_documents_restores_pseudonyms_for_its_local_search(knowledge: KnowledgeBase) -> None:
    seen: list[str] = []

    class Recorder:
        def search(self, query, principal, k=5):
            seen.append(query)
            return []

    context = ToolContext(principal=ALICE, restore={"<PERSON_1>": "Dana Scully"})
    await SearchDocumentsTool(Recorder()).run(SearchDocumentsArguments(query="leave of <PERSON_1>"), context)
    assert seen == ["leave of Dana Scully"]


async def test_read_document_section(knowledge: KnowledgeBase) -> None:
    tool = ReadDocumentSectionTool(knowledge)
    hits = await SearchDocumentsTool(knowledge).run(
        SearchDocumentsArguments(query="sick leave note"), ToolContext(principal=ALICE)
    )
    assert hits.data is not None
    doc_id = hits.data["passages"][0]["doc_id"]
    section = await tool.run(
        ReadSectionArguments(doc_id=doc_id, section="sick"), ToolContext(principal=ALICE)
    )
    assert "note after 3 days" in section.content and "16 weeks" not in section.content
    whole = await tool.run(ReadSectionArguments(doc_id=doc_id), ToolContext(principal=ALICE))
    assert "16 weeks" in whole.content and "note after 3 days" in whole.content
    missing = await tool.run(
        ReadSectionArguments(doc_id=doc_id, section="pension"), ToolContext(principal=ALICE)
    )
    assert "Nothing in" in missing.content and "Sick leave" in missing.content
    # Someone outside hr gets the same answer as for a document that does not exist.
    hidden = await tool.run(ReadSectionArguments(doc_id=doc_id), ToolContext(principal=FRANK))
    absent = await tool.run(ReadSectionArguments(doc_id="no-such-doc"), ToolContext(principal=FRANK))
    assert hidden.is_error and hidden.content == absent.content


async def test_current_date_is_timezone_aware() -> None:
    clock = lambda: datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # noqa: E731
    tool = CurrentDateTool(clock=clock)
    utc = await tool.run(CurrentDateArguments(), ToolContext(principal=ALICE))
    assert utc.content.startswith("Sunday 29 November 2026, 23:30 (UTC, UTC+00:00)")
    tokyo = await tool.run(CurrentDateArguments(timezone="Asia/Tokyo"), ToolContext(principal=ALICE))
    assert tokyo.content.startswith("Monday 30 November 2026, 08:30 (Asia/Tokyo, UTC+09:00)")
    assert tokyo.data == {"iso": "2026-11-30T08:30:00+09:00", "timezone": "Asia/Tokyo"}
    bad = await tool.run(CurrentDateArguments(timezone="Mars/Olympus"), ToolContext(principal=ALICE))
    assert bad.is_error and "unknown time zone" in bad.content


@pytest.fixture
def escalations(data_dir: Path):
    engine = open_database(GovernanceSettings(), data_dir)
    yield Escalations(engine)
    engine.dispose()


async def test_ask_a_person_opens_an_escalation_without_regulated_text(escalations: Escalations) -> None:
    tool = AskAPersonTool(escalations, _Gate())
    assert tool.spec.side_effects and not tool.spec.idempotent and tool.spec.destination == "local"
    context = ToolContext(principal=ALICE, thread_id="t-1", restore={"<PERSON_1>": "Dana"})
    result = await tool.run(AskAPersonArguments(summary="Help <PERSON_1> with a leave request"), context)
    opened = escalations.list_open()
    assert len(opened) == 1 and result.data == {"escalation_id": opened[0].id}
    assert (
        opened[0].thread_id == "t-1" and opened[0].user_id == "alice" and opened[0].reason == "user_request"
    )
    assert "Help Dana with a leave request" in opened[0].detail
    await tool.run(AskAPersonArguments(summary="User's SSN is 078-05-1120"), context)
    regulated = next(e for e in escalations.list_open() if e.id != opened[0].id)
    assert "078-05-1120" not in regulated.detail and "regulated" in regulated.detail

    await AskAPersonTool(escalations, _Gate(broken=True)).run(
        AskAPersonArguments(summary="plain words"), context
    )
    await AskAPersonTool(escalations, _Gate(failed_closed=True)).run(
        AskAPersonArguments(summary="more words"), context
    )
    details = " ".join(e.detail for e in escalations.list_open())
    assert "plain words" not in details and "more words" not in details  # gate down: fail closed


def test_the_readme_sample_catalog_is_valid(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Declaring tools", 1)[1]
    sample = section.split("```toml\n", 1)[1].split("```", 1)[0]
    catalog = load_catalog(_catalog(tmp_path, sample))
    assert [t.name for t in catalog.http_tool] == ["exchange_rate"]
    assert [s.name for s in catalog.mcp_server] == ["tickets"]
