"""One warm parent for the Python processes of a test run: each pytest-xdist worker and each worker's fork server
(tests/support/crash_worker.py) is forked from it instead of importing aiogram and the bot again (~3.5 s of
CPU each on these machines, a dozen times a run).

The controller (tests/conftest.py, `pytest_xdist_setupnodes`) starts it once and points every worker's
`python` at `tests/support/zygote_client.py`: a bare interpreter that hands its standard streams, arguments,
working directory and environment over a UNIX socket to this server, which forks a child to run them (`-c
code` as `python -c`, `-m module` as `python -m`) and answers with the child's pid and, later, how it ended.
The client exits the same way, so to its parent it is the process it asked for. A forked child is a normal
interpreter from there on: it ends through Python's own shutdown (threads joined, atexit run).

What the children inherit is imports only: no thread, no event loop, no open connection; `random` reseeds
itself in each child (`os.register_at_fork`). The bots of the tests stay real processes of their own: the fork
server that starts them is itself a child of this one.

Protocol on the socket: the client sends a 4-byte length and a JSON object {"argv", "cwd", "env"} with its fds
0, 1 and 2 attached (SCM_RIGHTS); the server answers {"pid": n} then {"status": code} (exit code, or minus the
signal), a line each. A client that goes away has its child killed. EOF on the server's stdin (the controller
ended) kills the remaining children and ends the server.
"""

from __future__ import annotations

import array
import contextlib
import gc
import io
import json
import os
import runpy
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
CLIENT = Path(__file__).with_name("zygote_client.py")
ENV = "SMSKA_TEST_ZYGOTE"  # the socket's path, in the environment of every process of the run


def _preload() -> None:
    """What each worker and fork server would import at its start. Not pytest's plugins (xdist, asyncio,
    timeout, hypothesis): pytest rewrites their asserts when it loads them, and warns about a module imported
    before."""
    import aiogram  # noqa: F401
    import asyncpg  # noqa: F401
    import httpx  # noqa: F401

    import bot.devkit.harness  # noqa: F401
    from tests.support import crash_worker

    crash_worker.warm()


def _collect(args: list[str]) -> None:
    """Collect the run's tests once, here, without running them: the workers forked afterwards find every test
    module and conftest imported (their asserts rewritten by pytest) and only build their items. Whatever goes
    wrong here is left to the workers, which import again and report it."""
    import pytest

    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    os.dup2(devnull, 1)
    try:
        with contextlib.suppress(Exception):
            pytest.main([*args, "--collect-only", "-qq", "-p", "no:cacheprovider"])
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    gc.collect()
    gc.freeze()


class _Server:
    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.children: dict[int, socket.socket | None] = {}
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)

    def serve(self) -> tuple[dict[str, Any], list[int]]:
        """Forks a child per request; returns only in a child, with its request and streams."""
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd hears of it
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "reap")
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
        while True:
            for key, _ in self.selector.select():
                if key.data == "accept":
                    request = self._accept()
                    if request is not None:
                        return request
                elif key.data == "reap":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wake_r, 512):
                            pass
                    self._reap()
                elif key.data == "stdin":
                    if not os.read(sys.stdin.fileno(), 512):
                        self._end()
                        raise SystemExit(0)
                else:  # a client's connection: it only ever closes (its process went away)
                    self._gone(key.data)

    def _accept(self) -> tuple[dict[str, Any], list[int]] | None:
        conn, _ = self.listener.accept()
        conn.settimeout(10)
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError):
            conn.close()
            return None
        pid = os.fork()
        if pid == 0:
            self._in_child([conn])
            return request, fds
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        self.selector.register(conn, selectors.EVENT_READ, pid)
        return None

    def _in_child(self, extra: list[socket.socket]) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.selector.close()
        for conn in [self.listener, *extra, *(c for c in self.children.values() if c is not None)]:
            conn.close()
        for fd in (self.wake_r, self.wake_w):
            os.close(fd)

    def _reap(self) -> None:
        for pid, code in reaped():
            conn = self.children.pop(pid, None)
            if conn is not None:
                self.selector.unregister(conn)
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps({"status": code}).encode() + b"\n")
                conn.close()

    def _gone(self, pid: int) -> None:
        conn = self.children.get(pid)
        if conn is None:
            return
        with contextlib.suppress(OSError):
            if conn.recv(1):
                return
        self.selector.unregister(conn)
        conn.close()
        self.children[pid] = None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def _end(self) -> None:
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        while self.children:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            conn = self.children.pop(pid, None)
            if conn is not None:
                conn.close()


def reaped() -> Iterator[tuple[int, int]]:
    """The children that have ended, without waiting: (pid, exit code or minus the signal that ended it)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, (-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    fds = array.array("i")
    data, ancdata, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(3 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    if len(data) < 4 or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("not a request")
    (length,) = struct.unpack("!I", data[:4])
    data = data[4:]
    while len(data) < length:
        chunk = conn.recv(length - len(data))
        if not chunk:
            raise ValueError("a request cut short")
        data += chunk
    return json.loads(data), list(fds)


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """In the child: take the client's streams, directory, environment and arguments, then run them as
    `python -c` or `python -m` would. Returns only when that code returned (SystemExit propagates)."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = list(request["argv"])
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    while argv[:1] == ["-u"]:  # what pytest-xdist starts its workers with
        unbuffered, argv = True, argv[1:]
    sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False))  # noqa: SIM115 — as long as the process
    for fd in (1, 2):
        raw = open(fd, "wb", buffering=0 if unbuffered else -1, closefd=False)  # noqa: SIM115
        stream = io.TextIOWrapper(
            raw, errors="backslashreplace" if fd == 2 else "strict", write_through=unbuffered, line_buffering=fd == 2
        )
        if fd == 1:
            sys.stdout = stream
        else:
            sys.stderr = stream
    if argv[:1] == ["-c"]:
        sys.argv = ["-c", *argv[2:]]
        sys.path[0] = ""
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = __builtins__
        sys.modules["__main__"] = main
        exec(compile(argv[1], "<string>", "exec"), main.__dict__)
    elif argv[:1] == ["-m"]:
        sys.argv = [argv[1], *argv[2:]]
        sys.path[0] = os.getcwd()
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        raise SystemExit(f"zygote: cannot run {argv!r} (only -u, -c and -m)")


def start(
    directory: Path, collect: list[str] | None = None, cwd: Path = ROOT, *, bare: bool = False
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server for this run (its socket and stderr in `directory`); wait until it is warm: imported,
    and with `collect`, pytest's arguments, the tests collected once."""
    path = str(directory / "zygote.sock")
    err = (directory / "zygote.err").open("wb")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.zygote", path, *_options(collect, bare)],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
    )
    err.close()
    assert proc.stdout is not None
    if not proc.stdout.readline().startswith(b"ready"):
        proc.kill()
        raise RuntimeError(f"the zygote did not start: {(directory / 'zygote.err').read_text()}")
    return proc, path


def _options(collect: list[str] | None, bare: bool) -> list[str]:
    return ["--bare"] if bare else [json.dumps(collect)] if collect is not None else []


def serve_run(config: Any, specs: list[Any]) -> None:
    """In pytest-xdist's controller: start the zygote, fork the local workers (`popen`) from it, and stop it when
    the run ends."""
    import shlex
    import tempfile

    local = [spec for spec in specs if spec.popen and not spec.python and not spec.via]
    if not local:
        return
    directory = Path(tempfile.mkdtemp(prefix="zygote-"))
    proc, path = start(directory, collect=list(config.args), cwd=config.invocation_params.dir)
    os.environ[ENV] = path
    for spec in local:
        spec.python = shlex.join(command(path))

    def stop() -> None:
        os.environ.pop(ENV, None)
        assert proc.stdin is not None
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(directory, ignore_errors=True)

    config.add_cleanup(stop)


def command(path: str) -> list[str]:
    """The command that runs `python ARGS` as a child of the zygote at `path`: put ARGS after it."""
    return [sys.executable, "-S", str(CLIENT), path]


def main(argv: list[str]) -> int:
    """`python -m tests.support.zygote SOCKET [COLLECT | --bare]`: COLLECT is pytest's arguments as JSON;
    --bare imports nothing ahead (tests/unit/test_zygote.py tries the protocol with it)."""
    if argv[2:] != ["--bare"]:
        _preload()
        if len(argv) > 2:
            _collect(json.loads(argv[2]))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(argv[1])
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    request, fds = _Server(listener).serve()
    _become(request, fds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
