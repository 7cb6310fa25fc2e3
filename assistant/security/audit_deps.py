"""Dependency audit of the lock files: fail on known high/critical vulnerabilities, and never pass
silently when the audit could not run.

Two sources, same verdict:
- `pip-audit` against each lock file (`--no-deps`, pins and hashes come from the lock) with its
  PyPI or OSV service, for CI with network access. pip-audit reports no severity (recorded as
  unknown), and unknown severity counts as high unless the id is listed in `ignore`.
- an OSV-format advisory database on disk (a folder of OSV JSON records, e.g. the osv.dev PyPI
  export unpacked), for offline runs and tests; severity comes from the record (GHSA
  `database_specific.severity`, else the CVSS base score).

A dependency that could not be checked (service unreachable, package unknown to the service)
makes the outcome `incomplete`, which fails the command: "no vulnerabilities" must mean the
audit ran. This module only reads lock files and advisories; it never installs anything.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict

Severity = Literal["unknown", "low", "moderate", "high", "critical"]
SEVERITY_RANK = {"unknown": 0, "low": 1, "moderate": 2, "high": 3, "critical": 4}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


class Vulnerability(BaseModel):
    model_config = ConfigDict(frozen=True)

    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    severity: Severity = "unknown"
    fixed_in: tuple[str, ...] = ()


class AuditOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    audited: int
    vulnerabilities: tuple[Vulnerability, ...] = ()
    not_audited: tuple[str, ...] = ()  # "package==version: why"
    error: str = ""

    @property
    def complete(self) -> bool:
        return not self.error and not self.not_audited

    def failing(self, threshold: Severity, ignore: Iterable[str] = ()) -> list[Vulnerability]:
        ignored = set(ignore)
        return [
            v
            for v in self.vulnerabilities
            # Unknown severity is not evidence of safety: it counts as high.
            if SEVERITY_RANK["high" if v.severity == "unknown" else v.severity] >= SEVERITY_RANK[threshold]
            and v.id not in ignored
            and not ignored.intersection(v.aliases)
        ]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lock: Path) -> dict[str, str]:
    """`name==version` pins of a requirements/lock file (hash lines and comments ignored)."""
    return {normalize(m.group(1)): m.group(2) for m in _PIN.finditer(lock.read_text(encoding="utf-8"))}


# ---- offline: an OSV database on disk ---------------------------------------------------------


def _severity(record: dict) -> Severity:  # type: ignore[type-arg]
    label = str((record.get("database_specific") or {}).get("severity", "")).lower()
    if label in SEVERITY_RANK:
        return label  # type: ignore[return-value]
    for entry in record.get("severity") or []:
        score = _cvss_score(str(entry.get("score", "")))
        if score is not None:
            return "critical" if score >= 9 else "high" if score >= 7 else "moderate" if score >= 4 else "low"
    return "unknown"


def _cvss_score(value: str) -> float | None:
    """A numeric score if the record gives one; CVSS vectors are not scored here (their
    severity stays unknown, and unknown counts as high)."""
    try:
        return float(value)
    except ValueError:
        return None


def _affected(version: str, affected: dict) -> tuple[bool, tuple[str, ...]]:  # type: ignore[type-arg]
    if version in (affected.get("versions") or []):
        return True, _fixes(affected)
    try:
        current = Version(version)
    except InvalidVersion:
        return False, ()
    for rng in affected.get("ranges") or []:
        if rng.get("type") == "ECOSYSTEM" and _in_range(current, rng.get("events") or []):
            return True, _fixes(affected)
    return False, ()


def _in_range(current: Version, events: Sequence[dict]) -> bool:  # type: ignore[type-arg]
    inside = False
    for event in events:  # OSV events are ordered: introduced, fixed/last_affected, ...
        if "introduced" in event:
            introduced = event["introduced"]
            inside = introduced == "0" or current >= Version(introduced)
        elif inside and _past(current, event):
            inside = False
    return inside


def _past(current: Version, event: dict) -> bool:  # type: ignore[type-arg]
    if "fixed" in event:
        return current >= Version(event["fixed"])
    return "last_affected" in event and current > Version(event["last_affected"])


def _fixes(affected: dict) -> tuple[str, ...]:  # type: ignore[type-arg]
    return tuple(
        e["fixed"] for r in affected.get("ranges") or [] for e in r.get("events") or [] if "fixed" in e
    )


def audit_with_osv_database(pins: dict[str, str], database: Path) -> AuditOutcome:
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(database.rglob("*.json"))]
    if not records:
        return AuditOutcome(audited=0, error=f"no OSV records under {database}")
    found: list[Vulnerability] = []
    for record in records:
        for affected in record.get("affected") or []:
            package = affected.get("package") or {}
            name = normalize(str(package.get("name", "")))
            if package.get("ecosystem") != "PyPI" or name not in pins:
                continue
            hit, fixes = _affected(pins[name], affected)
            if hit:
                found.append(
                    Vulnerability(
                        package=name,
                        version=pins[name],
                        id=record["id"],
                        aliases=tuple(record.get("aliases") or []),
                        severity=_severity(record),
                        fixed_in=fixes,
                    )
                )
    return AuditOutcome(audited=len(pins), vulnerabilities=tuple(found))


# ---- online: pip-audit ------------------------------------------------------------------------


def pip_audit_command(lock: Path, service: Literal["pypi", "osv"]) -> list[str]:
    return [
        sys.executable, "-m", "pip_audit", "--requirement", str(lock), "--no-deps", "--disable-pip",
        "--vulnerability-service", service, "--format", "json", "--progress-spinner", "off",
    ]  # fmt: skip


def parse_pip_audit(stdout: str) -> AuditOutcome:
    """pip-audit's JSON report; every reported vulnerability counts as high (no severity given)."""
    report = json.loads(stdout)
    found: list[Vulnerability] = []
    skipped: list[str] = []
    for dependency in report.get("dependencies", []):
        name, version = dependency.get("name", "?"), dependency.get("version", "?")
        if dependency.get("skip_reason"):
            skipped.append(f"{name}: {dependency['skip_reason']}")
        for vuln in dependency.get("vulns", []):
            found.append(
                Vulnerability(
                    package=normalize(name),
                    version=version,
                    id=vuln["id"],
                    aliases=tuple(vuln.get("aliases", [])),
                    severity="unknown",
                    fixed_in=tuple(vuln.get("fix_versions", [])),
                )
            )
    return AuditOutcome(
        audited=len(report.get("dependencies", [])), vulnerabilities=tuple(found), not_audited=tuple(skipped)
    )


def audit_with_pip_audit(
    lock: Path,
    *,
    service: Literal["pypi", "osv"] = "pypi",
    env: dict[str, str] | None = None,
    timeout_s: float = 900,
) -> AuditOutcome:
    try:
        done = subprocess.run(
            pip_audit_command(lock, service),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return AuditOutcome(audited=0, error=f"pip-audit timed out after {timeout_s:g} s")
    try:
        return parse_pip_audit(done.stdout)
    except (json.JSONDecodeError, KeyError):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return AuditOutcome(
            audited=0, error=f"the {service} vulnerability service could not be used: {last[:300]}"
        )
