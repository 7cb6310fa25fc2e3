"""The dependency audit fails on known high/critical vulnerabilities and never passes silently.

Offline: fixture OSV records (tests/data/security/osv/) against scratch lock files pinning an old,
vulnerable version. pip-audit itself runs for real as a subprocess, with its traffic sent to a
closed loopback proxy, to prove an unreachable service is reported loudly (exit 3), not a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from assistant.security.audit_deps import (
    audit_with_osv_database,
    audit_with_pip_audit,
    parse_pip_audit,
    read_pins,
)
from assistant.security.cli import audit_deps
from tests.support.servers import free_port

OSV = Path(__file__).parent / "data" / "security" / "osv"
REPO = Path(__file__).resolve().parent.parent


def _lock(tmp_path: Path, *pins: str) -> Path:
    path = tmp_path / "scratch.lock"
    lines = []
    for pin in pins:
        lines += [f"{pin} \\", "    --hash=sha256:" + "0" * 64]
    path.write_text("# scratch lock\n" + "\n".join(lines) + "\n")
    return path


def test_read_pins_understands_uv_lock_files():
    pins = read_pins(REPO / "requirements.lock")
    assert pins["chainlit"] and pins["llama-cpp-python"] and len(pins) > 50


def test_old_jinja2_fails_and_fixed_one_passes(tmp_path):
    vulnerable = audit_with_osv_database(read_pins(_lock(tmp_path, "Jinja2==2.10")), OSV)
    assert [(v.id, v.severity, v.fixed_in) for v in vulnerable.failing("high")] == [
        ("GHSA-462w-v97r-4m45", "high", ("2.10.1",))
    ]
    fixed = audit_with_osv_database(read_pins(_lock(tmp_path, "jinja2==3.1.6")), OSV)
    assert fixed.vulnerabilities == () and fixed.complete


def test_severity_threshold_and_ranges(tmp_path):
    outcome = audit_with_osv_database(
        read_pins(_lock(tmp_path, "some-package==1.0.0", "llama_cpp_python==0.2.50")), OSV
    )
    assert {v.id: v.severity for v in outcome.vulnerabilities} == {
        "GHSA-fixture-low": "low",
        "PYSEC-fixture-critical": "critical",
    }
    assert [v.id for v in outcome.failing("high")] == ["PYSEC-fixture-critical"]
    assert outcome.failing("high", ignore=["CVE-0000-0001"]) == []
    after = audit_with_osv_database(read_pins(_lock(tmp_path, "llama-cpp-python==0.3.16")), OSV)
    assert after.vulnerabilities == ()


def test_cli_exit_codes_with_an_advisory_database(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(audit_deps, ["--lock", str(_lock(tmp_path, "jinja2==2.10")), "--osv-db", str(OSV)])
    assert bad.exit_code == 1 and "GHSA-462w-v97r-4m45" in bad.output
    good = runner.invoke(audit_deps, ["--lock", str(_lock(tmp_path, "jinja2==3.1.6")), "--osv-db", str(OSV)])
    assert good.exit_code == 0, good.output


def test_project_locks_have_no_fixture_vulnerabilities():
    for name in ("requirements.lock", "requirements-dev.lock", "requirements-models.lock"):
        outcome = audit_with_osv_database(read_pins(REPO / name), OSV)
        assert outcome.failing("high") == [], name


def test_pip_audit_report_with_a_vulnerability_fails():
    report = parse_pip_audit(
        '{"dependencies": [{"name": "jinja2", "version": "2.10", "vulns": [{"id": "PYSEC-2019-217", '
        '"fix_versions": ["2.10.1"], "aliases": ["CVE-2019-10906"], "description": "sandbox escape"}]}], '
        '"fixes": []}'
    )
    # pip-audit gives no severity: unknown counts as high, so it fails the default threshold.
    assert [(v.id, v.severity) for v in report.failing("high")] == [("PYSEC-2019-217", "unknown")]


def test_pip_audit_skipped_package_is_not_a_pass():
    # What pip-audit printed here for a package its service could not find ("No known vulnerabilities").
    report = parse_pip_audit(
        '{"dependencies": [{"name": "jinja2", "skip_reason": "Dependency not found on PyPI and could '
        'not be audited: jinja2 (2.10)"}], "fixes": []}'
    )
    assert report.vulnerabilities == () and not report.complete


def test_unreachable_service_is_reported_loudly(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: every request fails on loopback
    env = {**os.environ, "HTTPS_PROXY": closed, "HTTP_PROXY": closed, "NO_PROXY": ""}
    outcome = audit_with_pip_audit(_lock(tmp_path, "jinja2==2.10"), service="pypi", env=env, timeout_s=110)
    assert not outcome.complete
    assert "could not be used" in outcome.error
