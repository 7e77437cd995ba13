"""A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) in front of the bot, on loopback.

Its configuration is the README's receiver example, taken from the README itself (so the README stays true),
with the bot's address and token put in and short group timings. Alerts are pushed into it through its own
API (`POST /api/v2/alerts`), as Prometheus does; it groups them and notifies the bot's `POST /alerts`.

`.ci/run` installs the package when the binary is missing; elsewhere, without it, the tests using this rig are
skipped with one line — never under CI (`CI=true`), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BINARIES = ("prometheus-alertmanager", "alertmanager")


def binary() -> str:
    for name in BINARIES:
        found = shutil.which(name)
        if found is not None:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("Alertmanager is missing: .ci/run installs Debian's prometheus-alertmanager for it")
    pytest.skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")


def readme_config(bot_url: str, token: str, *, group_wait: str = "1s", group_interval: str = "2s") -> str:
    """The README's `alertmanager.yml` example, pointed at `bot_url` with `token`, and quick to group."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"Prometheus Alertmanager \(`alertmanager.yml`\):\n\n```yaml\n(.*?)```", text, re.S)
    assert block is not None, "README lost its Alertmanager example"
    config = block[1]
    config = re.sub(r"url: \S+", f"url: {bot_url}/alerts", config)
    config = config.replace('"<ALERT_TOKEN>"', f'"{token}"')
    config = re.sub(r"group_wait: \S+", f"group_wait: {group_wait}", config)
    config = re.sub(r"group_interval: \S+", f"group_interval: {group_interval}", config)
    assert bot_url in config and token in config
    return config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Alertmanager:
    """`async with Alertmanager(tmp, bot_url, token) as am:` then `await am.fire(...)`, `await am.resolve(...)`."""

    def __init__(self, folder: Path, bot_url: str, token: str) -> None:
        self.folder = folder
        self.config = readme_config(bot_url, token)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None
        self.http = httpx.AsyncClient(timeout=5.0)

    async def __aenter__(self) -> Alertmanager:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "alertmanager.yml").write_text(self.config, encoding="utf-8")
        self.process = await asyncio.create_subprocess_exec(
            binary(),
            f"--config.file={self.folder / 'alertmanager.yml'}",
            f"--storage.path={self.folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # one instance: no gossip port
            "--log.level=error",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await self._ready()
        return self

    async def _ready(self, timeout: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            assert self.process is not None
            if self.process.returncode is not None:
                raise RuntimeError(f"alertmanager exited with {self.process.returncode}: check {self.config!r}")
            try:
                if (await self.http.get(self.url + "/-/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("alertmanager did not become ready")
            await asyncio.sleep(0.1)  # polling a process we started; no event to wait on

    async def __aexit__(self, *exc: Any) -> None:
        await self.http.aclose()
        if self.process is not None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    async def push(self, alerts: list[dict[str, Any]]) -> None:
        answer = await self.http.post(self.url + "/api/v2/alerts", json=alerts)
        assert answer.status_code == 200, answer.text

    @staticmethod
    def alert(
        name: str, instance: str, summary: str, *, severity: str = "critical", ends: datetime | None = None
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "labels": {"alertname": name, "instance": instance, "severity": severity, "job": "node"},
            "annotations": {"summary": summary},
            "startsAt": (now - timedelta(minutes=1)).isoformat(),
            "endsAt": (ends or now + timedelta(hours=1)).isoformat(),
            "generatorURL": "http://prometheus:9090/graph",
        }

    async def fire(self, name: str, instance: str, summary: str, **kw: Any) -> None:
        await self.push([self.alert(name, instance, summary, **kw)])

    async def resolve(self, name: str, instance: str, summary: str, **kw: Any) -> None:
        await self.push([self.alert(name, instance, summary, ends=datetime.now(UTC) - timedelta(seconds=1), **kw)])
