"""The deployment files: Dockerfile structure, build context, compose file, .env.example — and the image's
build steps themselves, run in clean virtualenvs (there is no Docker engine here; the Dockerfile runs the
same two scripts).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from bot.config import Settings
from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import (
    ADMIN,
    ROOT,
    BotProcess,
    PollingBot,
    bot_env,
    free_port,
    gateway,
    preview,
    settings_from,
    telegram,
)
from tests.support.image import FIXTURE, run, the_image
from tests.unit.test_locks import pins

__all__ = ["gateway", "telegram"]  # fixtures

SECRET_WORDS = re.compile(r"TOKEN|PASSWORD|SECRET|API_KEY|CREDENTIAL", re.IGNORECASE)

# ------------------------------------------------------------------------------------------ Dockerfile


@dataclass
class Instruction:
    keyword: str
    args: str
    flags: dict[str, str] = field(default_factory=dict)


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[list[Instruction], list[Stage]]:
    """Instructions (continuations joined, comments dropped) and the stages they belong to."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "a continuation runs off the end of the Dockerfile"
    preamble: list[Instruction] = []
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        flags: dict[str, str] = {}
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = flags[name] + ";" + value if name in flags else value
            rest = rest.strip()
        instruction = Instruction(keyword.upper(), rest, flags)
        if instruction.keyword == "FROM":
            image, _, name = rest.partition(" AS ")
            stages.append(Stage(image.strip(), name.strip()))
        elif stages:
            stages[-1].instructions.append(instruction)
        else:
            preamble.append(instruction)
    return preamble, stages


def env_pairs(instruction: Instruction) -> dict[str, str]:
    return dict(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", instruction.args))


@pytest.fixture(scope="module")
def dockerfile() -> tuple[list[Instruction], list[Stage]]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


def test_the_dockerfile_builds_without_pulling_a_frontend_from_a_registry(
    dockerfile: tuple[list[Instruction], list[Stage]],
) -> None:
    # A `# syntax=` parser directive makes BuildKit pull that frontend image first: without a registry the build
    # fails at once. The built-in frontend handles `RUN --mount` on its own (issue 24 row 20).
    directives = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.fullmatch(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*", line)
        if match is None:
            break  # parser directives are only read before the first other line
        directives.append(match[1].lower())
    assert "syntax" not in directives
    assert any("mount" in r.flags for stage in dockerfile[1] for r in stage.all("RUN"))


def test_the_readme_says_compose_v2_and_buildkit_are_needed() -> None:
    readme = (ROOT / "README.md").read_text()
    deploy = readme[readme.index("\n## Deploy") :]
    compose = parse_yaml_subset((ROOT / "docker-compose.yml").read_text())
    assert "name" in compose  # what docker-compose 1.x refuses
    assert re.search(r"Compose v2", deploy) and "BuildKit" in deploy, "the Deploy part must say what it needs"
    assert re.search(r"docker-compose` 1\.", deploy), "and that the old docker-compose 1.x does not do"


def test_dockerfile_is_a_slim_python_311_multi_stage_build(dockerfile: tuple[list[Instruction], list[Stage]]) -> None:
    preamble, stages = dockerfile
    [arg] = [i for i in preamble if i.keyword == "ARG"]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", arg.args)
    assert [(s.image, s.name) for s in stages] == [("${PYTHON_IMAGE}", "build"), ("${PYTHON_IMAGE}", "runtime")]
    build, runtime = stages
    # The build stage runs the script tests below run; the runtime stage only installs the wheels.
    assert [r.args for r in build.all("RUN")] == ["sh scripts/build-wheels.sh /wheels"]
    installs = [r for r in runtime.all("RUN") if "install-wheels.sh" in r.args]
    assert [r.args for r in installs] == ["sh /tmp/install-wheels.sh /wheels"]
    assert "from=build,source=/wheels,target=/wheels" in installs[0].flags["mount"]
    assert "pip" not in " ".join(r.args for r in runtime.all("RUN") if r not in installs)


def test_runtime_runs_as_a_non_root_user_with_the_database_on_a_volume(
    dockerfile: tuple[list[Instruction], list[Stage]],
) -> None:
    runtime = dockerfile[1][-1]
    users = runtime.all("USER")
    assert users, "the runtime stage never leaves root"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0")
    position = runtime.instructions.index(users[-1])
    assert not [i for i in runtime.instructions[position:] if i.keyword == "RUN"]
    assert any("useradd" in r.args and "--uid " + user in r.args for r in runtime.all("RUN"))
    assert any("install -d -o bot -g bot" in r.args and "/data" in r.args for r in runtime.all("RUN"))
    [volume] = runtime.all("VOLUME")
    assert json.loads(volume.args) == ["/data"]
    env: dict[str, str] = {}
    for instruction in runtime.all("ENV"):
        env.update(env_pairs(instruction))
    assert env["DATABASE_PATH"] == "/data/bot.sqlite3"


def test_healthcheck_and_command(dockerfile: tuple[list[Instruction], list[Stage]]) -> None:
    runtime = dockerfile[1][-1]
    [health] = runtime.all("HEALTHCHECK")
    _options, _, command = health.args.partition("CMD ")
    assert json.loads(command) == ["python", "-m", "bot.web.probe"]
    assert {"interval", "timeout", "start-period", "retries"} <= health.flags.keys()
    [cmd] = runtime.all("CMD")
    assert json.loads(cmd.args) == ["python", "-m", "bot"]
    assert runtime.instructions[-1] is cmd


def test_no_secret_in_the_image(dockerfile: tuple[list[Instruction], list[Stage]]) -> None:
    preamble, stages = dockerfile
    for instruction in [*preamble, *(i for s in stages for i in s.instructions)]:
        if instruction.keyword in ("ENV", "ARG", "LABEL"):
            names = env_pairs(instruction) or {instruction.args.split("=")[0]: ""}
            assert not [n for n in names if SECRET_WORDS.search(n)], instruction
    required = {name.upper() for name, f in Settings.model_fields.items() if f.is_required()}
    text = (ROOT / "Dockerfile").read_text()
    assert not [name for name in required if re.search(rf"\b{name}=", text)]


def test_only_what_is_needed_enters_the_image(dockerfile: tuple[list[Instruction], list[Stage]]) -> None:
    build, runtime = dockerfile[1]
    sources: list[str] = []
    for copy in build.all("COPY"):
        *parts, _dest = copy.args.split()
        sources += parts
    assert sorted(sources) == [
        "README.md",
        "bot/",
        "locales/",
        "pyproject.toml",
        "requirements/runtime.txt",
        "scripts/build-wheels.sh",
    ]
    assert not runtime.all("COPY") and not runtime.all("ADD") and not build.all("ADD")
    mounted = re.findall(r"source=([^,]+),target", runtime.all("RUN")[-1].flags["mount"])
    # The build context is a whitelist: everything the Dockerfile reads, and nothing else.
    ignore = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignore[0] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert allowed == {s.rstrip("/") for s in sources} | {"scripts/install-wheels.sh"}
    assert "scripts/install-wheels.sh" in mounted
    for name in allowed:
        assert (ROOT / name).exists(), name
    assert {"**/__pycache__", "**/*.sqlite3*"} <= set(ignore)


# --------------------------------------------------------------------------------------------- compose


def parse_yaml_subset(text: str) -> Any:
    """Block mappings and sequences of scalars, flow sequences in JSON form, comments: enough for the
    compose file (PyYAML is not a dependency), and strict: anything else fails the test."""
    rows: list[tuple[int, str]] = []
    for raw in text.splitlines():
        line = re.sub(r"\s+#.*$", "", raw) if not raw.lstrip().startswith("#") else ""
        if line.strip():
            rows.append((len(line) - len(line.lstrip()), line.strip()))

    def scalar(value: str) -> Any:
        if value.startswith("["):
            return json.loads(value)
        if value[:1] in "\"'":
            assert value[-1] == value[0], value
            return value[1:-1]
        return {"true": True, "false": False}.get(value, value)

    def block(index: int, indent: int) -> tuple[Any, int]:
        if rows[index][1].startswith("- "):
            items = []
            while index < len(rows) and rows[index][0] == indent and rows[index][1].startswith("- "):
                items.append(scalar(rows[index][1][2:].strip()))
                index += 1
            return items, index
        mapping: dict[str, Any] = {}
        while index < len(rows) and rows[index][0] == indent:
            key, sep, value = rows[index][1].partition(":")
            assert sep, f"not a mapping line: {rows[index][1]!r}"
            index += 1
            if value.strip():
                mapping[key] = scalar(value.strip())
            elif index < len(rows) and rows[index][0] > indent:
                mapping[key], index = block(index, rows[index][0])
            else:
                mapping[key] = None
        assert index == len(rows) or rows[index][0] < indent, f"bad indentation near {rows[index][1]!r}"
        return mapping, index

    parsed, end = block(0, 0)
    assert end == len(rows)
    return parsed


def test_compose_runs_the_bot_with_env_file_volume_and_restart_policy() -> None:
    compose = parse_yaml_subset((ROOT / "docker-compose.yml").read_text())
    bot = compose["services"]["bot"]
    assert bot["build"] == "."
    assert bot["env_file"] == ".env"
    assert bot["restart"] in ("unless-stopped", "always")
    assert bot["volumes"] == ["bot-data:/data"] and "bot-data" in compose["volumes"]
    assert bot["environment"]["DATABASE_PATH"] == "/data/bot.sqlite3"
    # More than the bot's own drain (30 s), or Docker kills it mid-send after its default 10 s.
    assert int(bot["stop_grace_period"].rstrip("s")) > 30
    assert "profiles" not in bot  # `docker compose up` starts it
    assert all(port.startswith("127.0.0.1:") for port in bot["ports"])  # behind a proxy, not open to the world
    for name, service in compose["services"].items():
        # A secret is never written in the file; `${POSTGRES_PASSWORD:?…}` takes it from .env.
        environment = service.get("environment") or {}
        assert not [k for k, v in environment.items() if SECRET_WORDS.search(k) and not str(v).startswith("${")], name


def test_compose_sandbox_is_optional_and_runs_the_emulator() -> None:
    compose = parse_yaml_subset((ROOT / "docker-compose.yml").read_text())
    sandbox = compose["services"]["sandbox"]
    assert sandbox["profiles"] == ["sandbox"]
    assert sandbox["command"] == ["python", "-m", "bot", "sandbox", "--host", "0.0.0.0"]
    assert sandbox["healthcheck"] == {"disable": True}  # it has no /healthz; the image's check is the bot's
    header = (ROOT / "docker-compose.yml").read_text()
    assert "SMSKA_URL=http://sandbox:8090/api/httppost.php" in header


# ---------------------------------------------------------------------------------------- .env.example


def env_example() -> tuple[dict[str, str], dict[str, str]]:
    """(set, commented-out) NAME=value lines."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            active[match[1]] = match[2]
        elif match := re.fullmatch(r"# ([A-Z][A-Z0-9_]*)=(.*)", line):
            commented[match[1]] = match[2]
    return active, commented


def test_env_example_names_every_setting_and_required_ones_have_placeholders() -> None:
    active, commented = env_example()
    names = {name.upper() for name in Settings.model_fields}
    assert set(active) | set(commented) == names
    assert not set(active) & set(commented)
    required = {name.upper() for name, f in Settings.model_fields.items() if f.is_required()}
    assert set(active) == required
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in active.items()})  # type: ignore[arg-type]
    assert settings.admin_ids == [123456789]


def test_env_example_shows_the_real_defaults() -> None:
    _active, commented = env_example()
    placeholders = {k.lower(): v for k, v in env_example()[0].items()}
    for name, shown in commented.items():
        field = Settings.model_fields[name.lower()]
        settings = Settings(_env_file=None, **placeholders, **{name.lower(): shown})  # type: ignore[arg-type]
        assert getattr(settings, name.lower()) == field.default, name


def test_env_example_file_loads_as_a_dot_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    monkeypatch.chdir(tmp_path)
    settings = Settings()  # type: ignore[call-arg]
    assert settings.smska_sender_ids == ["MyCompany"] and settings.webhook_url is None


# ------------------------------------------------------------------------ the image's steps, for real


@pytest.fixture(scope="session", name=FIXTURE)
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Dockerfile's two stages (tests/support/image.py): the runtime virtualenv's bin folder. Built once per
    run, begun as soon as the tests are collected (tests/e2e/conftest.py)."""
    return the_image(tmp_path_factory).bin


@pytest.mark.timeout(900)
def test_the_wheels_install_offline_and_carry_the_catalogs(installed: Path, tmp_path: Path) -> None:
    python = str(installed / "python")
    probe = (
        "import bot, pathlib, prometheus_client; root = pathlib.Path(bot.__file__).parent; "
        "print(root); print(sorted(str(p.relative_to(root)) for p in root.glob('locales/*/LC_MESSAGES/*.mo')))"
    )
    out = run([python, "-c", probe], cwd=tmp_path, path_first=installed).stdout.splitlines()
    assert "site-packages" in out[0] and str(ROOT) not in out[0]  # the installed package, not the checkout
    assert out[1] == str(["locales/en/LC_MESSAGES/messages.mo", "locales/ru/LC_MESSAGES/messages.mo"])
    usage = run([python, "-m", "bot", "--help"], cwd=tmp_path, path_first=installed).stdout
    assert "--webhook" in usage and "sandbox" in usage


def test_the_image_installs_exactly_the_locked_versions(installed: Path, tmp_path: Path) -> None:
    listing = run([str(installed / "python"), "-m", "pip", "list", "--format=json"], cwd=tmp_path, path_first=installed)
    versions = {canonicalize_name(d["name"]): d["version"] for d in json.loads(listing.stdout)}
    assert versions.pop("smska-telegram-bot") == "0.1.0"
    for bootstrap in ("pip", "setuptools"):  # what `python -m venv` (or the base image) brings
        versions.pop(bootstrap, None)
    locked = pins(ROOT / "requirements" / "runtime.txt")
    assert {
        name: (version, locked.get(name)) for name, version in versions.items() if locked.get(name) != version
    } == {}
    assert {"aiogram", "aiohttp", "babel", "prometheus-client", "pydantic-settings"} <= versions.keys()


@pytest.mark.timeout(900)
async def test_the_installed_bot_runs_like_the_container_and_its_healthcheck_passes(
    installed: Path, tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    python = str(installed / "python")
    port = free_port()
    env = bot_env(
        tmp_path, telegram, gateway, HEALTH_PORT=str(port), DATABASE_PATH=str(tmp_path / "data" / "bot.sqlite3")
    )
    probe_env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "HEALTH_PORT": str(port)}

    def healthcheck() -> int:
        # What Docker runs inside the container (the HEALTHCHECK line), with the image's environment.
        return subprocess.run(
            [python, "-m", "bot.web.probe"], cwd=tmp_path, env=probe_env, capture_output=True, timeout=30
        ).returncode

    assert healthcheck() == 1  # nothing listens yet: unhealthy
    bot = BotProcess([], env, tmp_path, python=python)
    bot.env.pop("PYTHONPATH")  # only the installed wheels, as in the image
    await bot.start()
    try:
        await bot.wait_line(r"health endpoints on", timeout=30)
        assert healthcheck() == 0
        admin = telegram.user(ADMIN, "Alice", language_code="ru")
        await admin.send("/balance")
        reply = await admin.next_message(timeout=10)
        assert "Баланс" in reply.plain  # the Russian catalog shipped inside the wheel
        bot.signal(signal.SIGTERM)
        assert await bot.wait(30) == 0
    finally:
        await bot.kill()
    assert healthcheck() == 1


# ------------------------------------------------------------------------------------- README's backup


async def test_the_readme_backup_command_copies_a_live_database(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    readme = (ROOT / "README.md").read_text()
    deploy = readme[readme.index("\n## Deploy") :]
    [command] = re.findall(r"docker compose exec bot (python -c \"[^\"]*\.backup\([^\"]*\")", deploy)
    live = tmp_path / "data" / "bot.sqlite3"
    copy = tmp_path / "backup.sqlite3"
    command = command.replace("/data/bot.sqlite3", str(live)).replace("/data/backup.sqlite3", str(copy))
    env = bot_env(tmp_path, telegram, gateway, DATABASE_PATH=str(live))
    async with PollingBot(settings_from(env)):
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        shown = await preview(admin, "/send 79041764995 Backup check")
        await admin.press(shown, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == shown.message_id and "Sent to" in m.plain, timeout=10)
        # The bot is running and holds the file open (WAL): the documented command, as an operator runs it.
        run(["sh", "-c", command], cwd=tmp_path, path_first=Path(sys.executable).parent)
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT state, msisdn FROM sends").fetchall() == [("accepted", "79041764995")]


def test_the_readme_backup_copies_are_as_private_as_the_database(tmp_path: Path) -> None:
    """Both documented backups (with and without Docker), run by an operator whose umask is the usual 022,
    give a copy readable by its owner only, like the database itself (0600): it holds numbers and texts."""
    readme = (ROOT / "README.md").read_text()
    backups = readme[readme.index("\n### Backups") :]
    [in_container] = re.findall(r"docker compose exec bot (python -c \"[^\"]*\.backup\([^\"]*\")", backups)
    [plain] = [
        line.split("  #")[0].strip() for line in backups.splitlines() if re.search(r"sqlite3 \S+ \"\.backup", line)
    ]
    (tmp_path / "data").mkdir()
    live = tmp_path / "data" / "bot.sqlite3"
    with contextlib.closing(sqlite3.connect(live)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE sends (msisdn TEXT)")
        conn.execute("INSERT INTO sends VALUES ('79041764995')")
        conn.commit()
    live.chmod(0o600)
    in_container = in_container.replace("/data/bot.sqlite3", str(live)).replace(
        "/data/backup.sqlite3", str(tmp_path / "backup.sqlite3")
    )
    for command in (plain, in_container):
        run(["sh", "-c", f"umask 022; {command}"], cwd=tmp_path, path_first=Path(sys.executable).parent)
    copies = sorted(p for p in tmp_path.glob("*.sqlite3"))
    assert len(copies) == 2, copies
    for copy in copies:
        assert copy.stat().st_mode & 0o777 == 0o600, f"{copy.name}: {oct(copy.stat().st_mode & 0o777)}"
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            assert conn.execute("SELECT msisdn FROM sends").fetchall() == [("79041764995",)]
