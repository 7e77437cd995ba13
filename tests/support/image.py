"""The image's two stages, for real and once per test run: the wheels (scripts/build-wheels.sh in a clean
virtualenv, from the build context as the Dockerfile's COPY lines lay it out), then their offline install
(scripts/install-wheels.sh in another clean virtualenv).

A session fixture is once per process, and xdist runs several: the first to ask builds under a file lock in
the run's shared temporary folder, in a folder named after a digest of what the build reads; the others
wait and reuse it (tests/e2e/test_deploy.py, and any other file that needs the wheels).

The build (~40 s of pip, the longest setup of the suite) starts as soon as the tests are collected when a test of
the run needs it (`build_ahead`, from tests/e2e/conftest.py), in a thread of whichever process takes the lock
first: by the time such a test runs, it is done or under way, not the tail of the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
JUNK = ("__pycache__", "*.py[co]", "*.sqlite3*")
#: What the build stage copies (the Dockerfile's COPY lines): files, then folders.
CONTEXT_FILES = ("pyproject.toml", "README.md", "requirements/runtime.txt", "scripts/build-wheels.sh")
CONTEXT_DIRS = ("bot", "locales")


@dataclass(frozen=True)
class Image:
    wheels: Path  # the build stage's /wheels
    bin: Path  # the runtime virtualenv's bin folder, the wheels installed offline

    @property
    def bot_wheel(self) -> Path:
        return next(self.wheels.glob("smska_telegram_bot-*.whl"))


def run(args: list[str], *, cwd: Path, path_first: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"  # pip asking the index about its own version proves nothing here
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def clean_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120)
    return where / "bin"


def _context_files() -> list[Path]:
    files = [ROOT / name for name in CONTEXT_FILES] + [ROOT / "scripts" / "install-wheels.sh"]
    for folder in CONTEXT_DIRS:
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.is_file() and not any(p.match(j) for j in JUNK))
    return files


def context_digest() -> str:
    digest = hashlib.sha256()
    for path in _context_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _build(base: Path) -> None:
    src = base / "src"  # WORKDIR /src
    src.mkdir()
    for name in CONTEXT_FILES:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, src / name)
    for folder in CONTEXT_DIRS:
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns(*JUNK))
    with ThreadPoolExecutor(max_workers=1) as pool:
        runtime_venv = pool.submit(clean_venv, base / "runtime-venv")  # the next stage's base, made meanwhile
        build_bin = clean_venv(base / "build-venv")
        built = run(["sh", "scripts/build-wheels.sh", str(base / "wheels")], cwd=src, path_first=build_bin)
        assert "with its catalogs" in built.stdout
        runtime_bin = runtime_venv.result()
    run(["sh", str(ROOT / "scripts" / "install-wheels.sh"), str(base / "wheels")], cwd=base, path_first=runtime_bin)


#: The fixture (tests/e2e/test_deploy.py) through which a test asks for the image.
FIXTURE = "installed"


def run_folder(factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this test run that every xdist worker shares (each worker's own is inside it)."""
    shared = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    return shared


def _folder(factory: pytest.TempPathFactory) -> Path:
    return run_folder(factory) / f"image-{context_digest()}"


def _built(base: Path, *, wait: bool) -> bool:
    """Build into `base` under its lock unless built already; False when not `wait` and another holds the lock."""
    with (base.parent / f"{base.name}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        if not (base / "done").exists():
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir()
            _build(base)
            (base / "done").write_text("")
    return True


def the_image(factory: pytest.TempPathFactory) -> Image:
    """Built once per run (whichever xdist worker asks first, or `build_ahead`), reused by every test and worker
    after."""
    base = _folder(factory)
    _built(base, wait=True)
    return Image(wheels=base / "wheels", bin=base / "runtime-venv" / "bin")


def build_ahead(session: pytest.Session) -> None:
    """Once the tests are collected: when one of them needs the image, start building it in a background thread.
    Under xdist every worker collects every test; the first to take the lock builds, the others leave it to
    that one (a test that needs the image waits on the lock in `the_image`). A failed build here is not
    reported: the test's own `the_image` builds again and shows why."""
    config = session.config
    if config.option.collectonly or not any(FIXTURE in getattr(i, "fixturenames", ()) for i in session.items):
        return
    base = _folder(config._tmp_path_factory)  # type: ignore[attr-defined]  # the tmp_path_factory fixture's own

    def build() -> None:
        with contextlib.suppress(Exception):  # the test's own call builds again and reports it
            _built(base, wait=False)

    # Not a daemon: a worker that runs out of tests first still ends its build, never leaving it half-written.
    threading.Thread(target=build, name="image-build-ahead", daemon=False).start()
