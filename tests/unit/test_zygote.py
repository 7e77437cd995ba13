"""The zygote (tests/support/zygote.py) forks the test run's workers and fork servers: to whoever starts it, a
process run through it must behave as `python` itself would — streams, directory, environment, arguments, exit
code, death by a signal, SIGTERM — or xdist and the crash trials would misread their processes."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import zygote


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    proc, path = zygote.start(tmp_path_factory.mktemp("zygote"), bare=True)
    yield zygote.command(path)
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(10) == 0


def test_code_gets_its_streams_directory_environment_and_arguments_and_its_exit_code(
    python: list[str], tmp_path: Path
) -> None:
    code = "import os, sys; print(input().upper(), os.getcwd(), os.environ['WHO'], sys.argv); sys.exit(3)"
    done = subprocess.run(
        [*python, "-u", "-c", code, "one"],
        input="night\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "WHO": "operator"},
        timeout=20,
    )
    assert (done.returncode, done.stdout) == (3, f"NIGHT {tmp_path} operator ['-c', 'one']\n")


def test_a_module_runs_as_main(python: list[str], tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("import sys\nif __name__ == '__main__':\n    print('main', sys.argv[1:])\n")
    done = subprocess.run([*python, "-m", "hello", "x"], capture_output=True, text=True, cwd=tmp_path, timeout=20)
    assert (done.returncode, done.stdout) == (0, "main ['x']\n")


def test_death_by_a_signal_is_seen_as_such(python: list[str]) -> None:
    done = subprocess.run([*python, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], timeout=20)
    assert done.returncode == -signal.SIGKILL


def test_sigterm_reaches_the_forked_process(python: list[str]) -> None:
    code = (
        "import os, signal, sys\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\n"
        "print(os.getpid(), flush=True)\n"
        "signal.pause()\n"
    )
    proc = subprocess.Popen([*python, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    assert child != proc.pid  # a fork of the zygote, not the client
    proc.terminate()
    assert proc.wait(20) == 7


def test_a_killed_client_takes_its_process_along(python: list[str]) -> None:
    proc = subprocess.Popen(
        [*python, "-c", "import sys, time; print('up', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "up\n"
    proc.kill()
    proc.wait(20)
    assert proc.stdout.read() == ""  # EOF: the forked process, the pipe's last writer, is gone too
