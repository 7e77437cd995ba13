"""The playground's alerts: `:alert [severity] [name]` (`:alert critical`) posts a sample firing Alertmanager
notification to the bot's own POST /alerts (the token is made up for the session), `:resolve [name]` its resolution; and the team chat
(TEAM_CHAT_ID), whose feed lines are printed as they come."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from bot.devkit.telegram import FakeGroup

from .transcript import render_event

TEAM_CHAT_ID = -1001000000001
TEAM_TITLE = "On-call team"


def session_token() -> str:
    return secrets.token_urlsafe(24)


SEVERITIES = ("critical", "warning", "info")


def alert_words(rest: str) -> tuple[str, str]:
    """`:alert`'s words: an optional severity, then an optional name -> (name, severity)."""
    words = rest.split()
    severity = words.pop(0).lower() if words and words[0].lower() in SEVERITIES else "critical"
    return (words[0] if words else "DiskFull"), severity


def sample_notification(name: str, status: str, severity: str = "critical") -> dict[str, Any]:
    """What Alertmanager (webhook version 4) sends for one group with one alert."""
    summary = f"{name} on db1: disk /var is 95% full"
    labels = {"alertname": name, "instance": "db1:9100", "job": "node", "severity": severity}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "smska-bot",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": {"summary": summary},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": summary},
                "startsAt": "2026-12-02T00:10:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }


async def post_sample(base_url: str, token: str, name: str, status: str, severity: str = "critical") -> int:
    """POST the sample to `base_url/alerts`; the HTTP status."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"{base_url}/alerts",
            json=sample_notification(name, status, severity),
            headers={"Authorization": f"Bearer {token}"},
        )
    return answer.status_code


def team_lines(team: FakeGroup) -> list[str]:
    """What the bot did in the team chat since the last look, as transcript lines ("team: ...")."""
    lines: list[str] = []
    for event in team.unseen_events():
        lines.extend("team " + line if line.startswith("bot: ") else line for line in render_event(event))
    team.mark_seen()
    return lines
