"""The alert rules as a supervisor meets them: each has a severity, a summary and a description
that says what to do, and promtool unit tests that show it firing and not firing. (`make test`
runs `promtool check rules` and `promtool test rules` on them.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
REQUIRED = {
    "EvidockDeviceNotDocked", "EvidockLateOffloadUnexcused", "EvidockOffloadPendingNearDeadline",
    "EvidockFixityFailure", "EvidockFixitySweepMissing", "EvidockDockDown",
    "EvidockStorageErrors", "EvidockJobQueueStuck", "EvidockArchiveDeadlinePassed",
}  # fmt: skip


def _rules() -> dict[str, str]:
    text = (MONITORING / "alerts.yml").read_text()
    blocks = re.split(r"\n      - alert: ", text)[1:]
    return {b.split("\n", 1)[0].strip(): b for b in blocks}


def test_every_alert_has_a_severity_and_actionable_annotations() -> None:
    """The required alerts exist; each has a severity, a summary and a description of at least
    two sentences that names something to run or check."""
    rules = _rules()
    assert set(rules) >= REQUIRED
    for name, block in rules.items():
        assert re.search(r"severity: (critical|warning)\n", block), name
        assert re.search(r'summary: ".+"', block), name
        desc = re.search(r"description: >-\n((?:\s{12}.+\n?)+)", block)
        assert desc is not None, name
        text = " ".join(desc.group(1).split())
        assert text.count(". ") >= 1 and ("`" in text or "Check" in text), (name, text)


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    """alerts.test.yml evaluates every rule at least once with an alert expected and once
    with none."""
    text = (MONITORING / "alerts.test.yml").read_text()
    evals = re.findall(r"alertname: (\w+)\n\s+exp_alerts:( \[\])?", text)
    firing = {name for name, empty in evals if not empty}
    quiet = {name for name, empty in evals if empty}
    assert set(_rules()) == firing == quiet


def test_dashboard_is_a_grafana_dashboard_on_a_chosen_prometheus() -> None:
    """Every panel has a unique id and a place; every query names the data source variable."""
    doc = json.loads((MONITORING / "dashboard.json").read_text())
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    assert all({"x", "y", "w", "h"} <= set(p["gridPos"]) for p in doc["panels"])
    targets = [t for p in doc["panels"] for t in p.get("targets", [])]
    assert len(targets) > 30  # a floor: the dashboard grows; it guards against finding none
    assert all(t["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for t in targets)
    titles = " ".join(p["title"] for p in doc["panels"] if p["type"] == "row").lower()
    for topic in ("24-hour", "throughput", "devices", "fixity", "queue", "storage"):
        assert topic in titles
