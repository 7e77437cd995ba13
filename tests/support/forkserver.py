"""The test side of the fork server (`tests/support/crash_worker.py`): `python -m bot` without ~3 s of imports each.

One server per test process (per xdist worker), started on first use and stopped at exit. Each bot it starts
is a real process of its own — its own pid, environment, working directory and output, killed by SIGKILL like
any other — forked from a parent that imported the bot once; from `bot.__main__.main()` on it is `python -m
bot`. What it cannot show is the imports themselves: the tests about those (a SIGTERM during the imports, the
installed wheel) start a real interpreter.

The server's answers are read by a thread, so one server serves every test whatever its event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent.parent
ZYGOTE = "SMSKA_TEST_ZYGOTE"  # tests/support/zygote.py's ENV (not imported: it is the server's module)
ZYGOTE_CLIENT = Path(__file__).with_name("zygote_client.py")


class ForkServer:
    """Starts bots by fork (`spawn`), tells how each one ended (`wait_exit`)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.exits: dict[int, int] = {}
        self.spawned: list[int] = []
        self._pids: queue.Queue[int] = queue.Queue()
        self._ready = threading.Event()
        self._lock = threading.Lock()  # one request at a time: the answers come in order
        self._changed = threading.Condition()
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[int]]] = []
        self._err: IO[bytes] | None = None

    def start(self, directory: Path) -> ForkServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        self._err = (directory / "fork-server.err").open("wb")
        zygote = os.environ.get(ZYGOTE)  # forked from the run's warm process (tests/support/zygote.py)
        python = [sys.executable, "-S", str(ZYGOTE_CLIENT), zygote] if zygote else [sys.executable]
        self.proc = subprocess.Popen(
            [*python, "-m", "tests.support.crash_worker"],
            cwd=directory,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
        )
        threading.Thread(target=self._read, name="fork-server", daemon=True).start()
        if not self._ready.wait(120):
            raise RuntimeError(f"the fork server did not start: {(directory / 'fork-server.err').read_text()}")
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            message: dict[str, Any] = json.loads(raw)
            if "ready" in message:
                self._ready.set()
            elif "pid" in message:
                self._pids.put(int(message["pid"]))
            elif "exit" in message:
                pid, status = int(message["exit"]), int(message["status"])
                with self._changed:
                    self.exits[pid] = status
                    self._changed.notify_all()
                    waiting, self._waiters = (
                        [w for w in self._waiters if w[0] == pid],
                        [w for w in self._waiters if w[0] != pid],
                    )
                for _, loop, future in waiting:
                    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                        loop.call_soon_threadsafe(_settle, future, status)

    def spawn_now(
        self,
        env: dict[str, str],
        cwd: Path,
        out: Path,
        args: list[str] | None = None,
        *,
        stdin: Path | None = None,
        err: Path | None = None,
        module: str | None = None,
    ) -> int:
        """Start `python -m bot *args` (`python -m module *args` with `module`) with exactly `env`, its output
        (stdout, and stderr unless `err` takes it) into the file or FIFO `out`, its stdin read from `stdin`
        (else /dev/null); its pid."""
        assert self.proc is not None and self.proc.stdin is not None
        request: dict[str, Any] = {"env": env, "cwd": str(cwd), "log": str(out), "args": list(args or [])}
        request.update({k: str(v) for k, v in (("stdin", stdin), ("err", err), ("module", module)) if v is not None})
        with self._lock:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
            pid = self._pids.get(timeout=30)
        self.spawned.append(pid)
        return pid

    async def spawn(self, env: dict[str, str], cwd: Path, out: Path, args: list[str] | None = None) -> int:
        return await asyncio.to_thread(self.spawn_now, env, cwd, out, args)

    def wait_exit_now(self, pid: int, timeout: float) -> int:
        """`wait_exit` for a thread without an event loop: the exit code, or minus the signal; TimeoutError."""
        with self._changed:
            if not self._changed.wait_for(lambda: pid in self.exits, timeout):
                raise TimeoutError(f"process {pid} still running after {timeout}s")
            return self.exits[pid]

    async def wait_exit(self, pid: int, timeout: float | None = 40.0) -> int:
        """The child's exit code, or minus the signal that ended it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        with self._changed:
            if pid in self.exits:
                return self.exits[pid]
            self._waiters.append((pid, loop, future))
        return await asyncio.wait_for(future, timeout)

    def kill_children(self, timeout: float = 20.0) -> None:
        """SIGKILL every bot it started that is still running, and wait until the server saw each end."""
        running = [pid for pid in self.spawned if pid not in self.exits]
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with self._changed:
            self._changed.wait_for(lambda: all(pid in self.exits for pid in running), timeout)

    def close(self) -> None:
        """Kill the children still running, end the server."""
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._err is not None:
            self._err.close()
        self.proc = None


def _settle(future: asyncio.Future[int], status: int) -> None:
    if not future.done():
        future.set_result(status)


_shared: ForkServer | None = None
_shared_lock = threading.Lock()


def fork_server(directory: Path | None = None) -> ForkServer:
    """This process's fork server, started on first use (its stderr in `directory`, else a temporary one)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.proc is None or _shared.proc.poll() is not None:
            import tempfile

            where = directory or Path(tempfile.mkdtemp(prefix="fork-server-"))
            _shared = ForkServer().start(where)
            atexit.register(_shared.close)
        return _shared
