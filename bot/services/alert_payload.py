"""Reading an alert notification: Prometheus Alertmanager's webhook body (version 4) and Grafana's, which follows
it (plus `orgId`, `title`, `message`, its own `version`). Pure: no I/O, no aiogram.

    {"version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "status": "firing", "receiver": "smska",
     "groupLabels": {...}, "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
     "commonAnnotations": {"summary": "..."}, "externalURL": "http://alertmanager:9093",
     "alerts": [{"status": "firing", "labels": {...}, "annotations": {...}, "startsAt": "...", ...}],
     "truncatedAlerts": 0}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_FIELD = 500  # characters kept of a name, a summary, a URL (a message shows a few lines, not a novel)
MAX_KEY = 1000  # a group key longer than this is refused (Alertmanager's are a few hundred at most)


class NotAnAlert(ValueError):
    """The body is JSON, but not an Alertmanager/Grafana notification (a 400)."""


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """One notification: the state of one alert group as its sender sees it now."""

    group_key: str
    status: str  # "firing" | "resolved"
    alertname: str
    severity: str
    summary: str
    firing: int  # alerts of the group that fire now
    total: int  # alerts in the notification (plus truncatedAlerts)
    external_url: str


def _text(value: Any) -> str:
    return " ".join(value.split())[:MAX_FIELD] if isinstance(value, str) else ""


def _labels(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NotAnAlert(f"{what} is not an object")
    return value


def parse_alert_payload(data: Any) -> AlertGroup:
    """The alert group a webhook body describes; NotAnAlert when it is not one."""
    if not isinstance(data, dict):
        raise NotAnAlert("not a JSON object")
    key = data.get("groupKey")
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
        raise NotAnAlert("groupKey missing")
    status = data.get("status")
    if status not in ("firing", "resolved"):
        raise NotAnAlert("status is neither firing nor resolved")
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise NotAnAlert("alerts is not a list of objects")
    common = _labels(data.get("commonLabels"), "commonLabels")
    annotations = _labels(data.get("commonAnnotations"), "commonAnnotations")
    group_labels = _labels(data.get("groupLabels"), "groupLabels")
    first_labels: dict[str, Any] = {}
    first_annotations: dict[str, Any] = {}
    firing = 0
    for alert in alerts:
        labels = _labels(alert.get("labels"), "labels")
        notes = _labels(alert.get("annotations"), "annotations")
        if alert.get("status", status) == "firing":
            firing += 1
            if not first_labels:
                first_labels, first_annotations = labels, notes
    if not first_labels and alerts:
        first_labels = _labels(alerts[0].get("labels"), "labels")
        first_annotations = _labels(alerts[0].get("annotations"), "annotations")

    def pick(name: str, *sources: dict[str, Any]) -> str:
        for source in sources:
            found = _text(source.get(name))
            if found:
                return found
        return ""

    truncated = data.get("truncatedAlerts")
    extra = truncated if isinstance(truncated, int) and 0 < truncated < 10**9 else 0
    return AlertGroup(
        group_key=key.strip(),
        status=status,
        alertname=pick("alertname", common, group_labels, first_labels) or _text(data.get("title")),
        severity=pick("severity", common, first_labels),
        summary=pick("summary", annotations, first_annotations) or pick("description", annotations, first_annotations),
        firing=firing + (extra if status == "firing" else 0),
        total=len(alerts) + extra,
        external_url=_text(data.get("externalURL")),
    )
