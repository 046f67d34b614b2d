"""Audit findings as SARIF 2.1.0 for GitHub code scanning, located at the declaration line."""

from __future__ import annotations

from typing import Any

from envlock import __version__
from envlock.audit import AuditFinding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub reads security-severity (a CVSS-like number) to rank alerts
SECURITY_SEVERITY = {"low": "3.0", "medium": "5.0", "high": "8.0", "critical": "9.5", None: "7.0"}
SARIF_LEVEL = {"low": "note", "medium": "warning", "high": "error", "critical": "error", None: "error"}


def sarif_document(findings: tuple[AuditFinding, ...] | list[AuditFinding]) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for finding in findings:
        rules.setdefault(finding.id, {
            "id": finding.id,
            "name": finding.kind,
            "shortDescription": {"text": f"{finding.package} {finding.version}: {finding.id}"},
            "fullDescription": {"text": finding.summary or finding.id},
            "helpUri": finding.url or "https://peps.python.org/pep-0592/",
            "help": {"text": f"fix: {finding.fix}"},
            "properties": {"security-severity": SECURITY_SEVERITY[finding.severity],
                           "tags": ["security", finding.kind, *finding.aliases]},
        })
        region = {"startLine": finding.line} if finding.line else {}
        results.append({
            "ruleId": finding.id,
            "level": SARIF_LEVEL[finding.severity],
            "message": {"text": f"{finding.environment}: {finding.manager} package {finding.package} "
                                f"{finding.version} ({', '.join(finding.platforms)}): {finding.id}"
                                f"{' (' + ', '.join(finding.aliases) + ')' if finding.aliases else ''}"
                                f" {finding.summary}. Fix: {finding.fix}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": finding.file, "uriBaseId": "%SRCROOT%"},
                                                **({"region": region} if region else {})}}],
            "partialFingerprints": {"envlockFinding/v1": f"{finding.environment}/{finding.package}/"
                                                         f"{finding.version}/{finding.id}"},
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "envlock", "version": __version__,
                                "informationUri": "https://github.com/envlock/envlock",
                                "rules": [rules[key] for key in sorted(rules)]}},
            "results": results,
        }],
    }
