"""Alert notifications as Alertmanager (webhook version 4) and Grafana's webhook contact point send them, and a
small client that posts them to the bot over loopback."""

from __future__ import annotations

from typing import Any

import httpx

from bot.middlewares.telegram import tls_context

TOKEN = "alert-token-Zq9secret-0123456789"  # test-only; distinctive so a leak is easy to find


def alert(
    name: str = "DiskFull",
    *,
    status: str = "firing",
    instance: str = "db1:9100",
    severity: str = "critical",
    summary: str = "Disk /var on db1 is 95% full",
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "instance": instance, "job": "node", "severity": severity},
        "annotations": {"summary": summary, "description": f"{summary} for 5 minutes"},
        "startsAt": "2026-12-02T00:10:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-02T00:40:00.000Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=node_filesystem_avail_bytes",
        "fingerprint": f"{abs(hash((name, instance))) % 16**16:016x}",
    }


def alertmanager(
    alerts: list[dict[str, Any]], *, status: str | None = None, name: str = "DiskFull", group: str = ""
) -> dict[str, Any]:
    """A version-4 body for one alert group (group key from the name, or `group`)."""
    first = alerts[0]
    common = {"alertname": name, "job": "node", "severity": first["labels"]["severity"]}
    if len({a["labels"]["instance"] for a in alerts}) == 1:
        common["instance"] = first["labels"]["instance"]
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="'
        + name
        + '"'
        + (f', group="{group}"' if group else "")
        + "}",
        "truncatedAlerts": 0,
        "status": status or ("firing" if firing else "resolved"),
        "receiver": "smska-bot",
        "groupLabels": {"alertname": name},
        "commonLabels": common,
        "commonAnnotations": {"summary": first["annotations"]["summary"]} if len(alerts) == 1 else {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def grafana(name: str = "High memory usage", summary: str = "Memory on web1 is at 97%") -> dict[str, Any]:
    """Grafana's webhook contact point: Alertmanager's shape plus orgId, title, state, message (version "1")."""
    body = alertmanager([alert(name, instance="web1", severity="warning", summary=summary)], name=name)
    body.update(
        {
            "version": "1",
            "groupKey": '{}:{alertname="' + name + '"}',
            "orgId": 1,
            "title": f"[FIRING:1] {name}",
            "state": "alerting",
            "message": f"**Firing**\n\nValue: B=97\nLabels:\n - alertname = {name}\n",
        }
    )
    return body


async def post(
    base: str,
    body: Any,
    *,
    token: str | None = TOKEN,
    raw: bytes | None = None,
    headers: dict[str, str | bytes] | None = None,
) -> httpx.Response:
    sent: dict[str, str | bytes] = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=10, verify=tls_context()) as client:
        if raw is not None:
            return await client.post(f"{base}/alerts", content=raw, headers=sent)
        return await client.post(f"{base}/alerts", json=body, headers=sent)
