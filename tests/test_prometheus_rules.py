"""Watching the bot itself: `deploy/prometheus/rules.yml` and `deploy/grafana/dashboard.json`.

Prometheus's own `promtool` checks the rules and runs their unit tests (`rules.test.yml`: a firing and a silent
case per rule); then a running bot is scraped and every metric the rules and the dashboard name must be there,
with the values an on-call person would read off it. `.ci/run` installs Debian's `prometheus` (for `promtool`)
when it is missing; elsewhere, without `promtool`, the first test says so and is skipped — never under CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.deploy_fixtures import ADMIN, WebhookBot, bot_env, gateway, http, preview, settings_from, telegram

__all__ = ["gateway", "http", "telegram"]  # fixtures

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboard.json"
METRIC = re.compile(r"\bsmska_bot_[a-z_]+")
#: A histogram's and a counter's series carry a suffix the family's name does not.
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package for it")
        pytest.skip("promtool is not installed (apt-get install prometheus): the rules are not checked here")
    return found


def named_metrics() -> set[str]:
    """Every smska_bot_* series the rules and the dashboard's queries name."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    return set(METRIC.findall(RULES.read_text(encoding="utf-8"))) | {m for q in queries for m in METRIC.findall(q)}


def test_promtool_checks_the_rules_and_each_fires_and_stays_silent_in_its_test() -> None:
    tool = promtool()
    checked = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    alerts = re.findall(r"^\s+- alert: (\w+)", RULES.read_text(encoding="utf-8"), re.MULTILINE)
    assert len(alerts) == 8 and int(re.search(r"SUCCESS: (\d+) rules", checked.stdout)[1]) == len(alerts)
    tests = RULE_TESTS.read_text(encoding="utf-8")
    for alert in alerts:  # each rule has a case that fires, and a case or an instance that must stay silent
        cases = re.findall(rf"alertname: {alert}\n\s+exp_alerts:(.*?)(?=\n\s+- eval_time|\n\n|\Z)", tests, re.S)
        assert any("exp_labels" in c for c in cases), f"{alert}: no firing case in {RULE_TESTS.name}"
    tested = subprocess.run(
        [tool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=120, cwd=RULE_TESTS.parent
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_dashboard_is_a_grafana_dashboard_on_a_chosen_prometheus() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    titles = [panel["title"] for panel in dashboard["panels"]]
    for wanted in ("Delivery time", "Gateway errors", "Telegram", "Balance", "Operators' answer time", "Replicas"):
        assert any(title.startswith(wanted) for title in titles), wanted
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"${datasource}"}
    assert all(panel["targets"] for panel in dashboard["panels"])


@pytest.fixture
async def bot(tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway) -> AsyncIterator[WebhookBot]:
    from tests.deploy_fixtures import free_port

    port = free_port()
    env = bot_env(
        tmp_path,
        telegram,
        gateway,
        WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        WEBHOOK_SECRET="s" * 32,
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_PORT=str(port),
        LOW_BALANCE_THRESHOLD="5000",  # the sandbox's account holds 1000: the balance rule would fire
    )
    async with WebhookBot(settings_from(env)) as running:
        yield running


async def test_every_metric_the_rules_and_dashboard_name_is_exported_by_a_running_bot(
    bot: WebhookBot, telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    admin = telegram.user(ADMIN, "Alice", language_code="en")
    shown = await preview(admin, "/send 79041764995 Pump 3 pressure low")
    await admin.press(shown, "✅ Send")
    await admin.wait_for(lambda m: "delivered" in m.plain and m.message_id != shown.message_id, timeout=15)

    async with http.get(bot.base + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    exported = list(text_string_to_metric_families(text))
    samples = {s.name: s for family in exported for s in family.samples}
    # A labelled family with no series yet (no gateway error so far) is still exported, by its HELP and TYPE.
    families = {f.name for f in exported} | {f.name + "_total" for f in exported if f.type == "counter"}
    families |= {name.removesuffix(suffix) for name in samples for suffix in SUFFIXES}

    named = named_metrics()
    assert len(named) >= 14
    missing = sorted(name for name in named if name not in samples and name not in families)
    assert not missing, f"named in rules.yml or dashboard.json but not exported: {missing}"
    # What a person reads off them: the balance the send left (1000 - 1) under its threshold, one leader, Telegram reachable,
    # tracking not behind, one delivery timed, answers timed.
    assert samples["smska_bot_balance"].value == 999 and samples["smska_bot_balance_threshold"].value == 5000
    assert samples["smska_bot_leader"].value == 1
    assert samples["smska_bot_telegram_ok"].value == 1
    assert samples["smska_bot_tracking_overdue_seconds"].value == 0
    assert samples["smska_bot_chat_queue_depth"].value == 0
    assert samples["smska_bot_telegram_errors_total"].value == 0
    delivered = [
        s
        for f in exported
        for s in f.samples
        if s.name == "smska_bot_delivery_seconds_count" and s.labels.get("outcome") == "delivered"
    ]
    assert [s.value for s in delivered] == [1]
    answered = [s for f in exported for s in f.samples if s.name == "smska_bot_update_seconds_count"]
    assert sum(s.value for s in answered) >= 2  # the /send message and the press
