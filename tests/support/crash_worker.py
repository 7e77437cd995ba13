"""A fork server for crash trials: `python -m bot` without paying its ~3 s of imports per start.

It imports the bot once, then forks a child per request; each child runs ``bot.__main__.main()`` — exactly
what ``python -m bot`` runs after its imports — with its own environment, working directory and log file, and
is meant to be killed (SIGKILL) at a random moment. tests/support/forkserver.py starts it (one per test process)
for the crash trials of tests/chaos/ and the subprocess bots of the end-to-end tests.

Protocol, one JSON object a line:
  stdin   {"env": {...}, "cwd": "/dir", "log": "/dir/bot.log", "args": []}  start a bot
          optional keys: "stdin" (a file read as its stdin, else /dev/null), "err" (its stderr into a file of
          its own, else into "log"), "module" (run that module as `python -m module *args` instead)
  stdout  {"ready": <pid>}                     once, when the imports are done
          {"pid": <pid>}                       the answer to each start, in order
          {"exit": <pid>, "status": <int>}     a child ended (exit code, or minus the signal that ended it)
Closing stdin kills the remaining children and ends the server.

Run: ``python -m tests.support.crash_worker`` from the repository root (or with it on ``PYTHONPATH``). It lives with
the tests because only they use it; the wheel does not carry it.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import runpy
import select
import signal
import sys
import traceback
from typing import Any

# What `python -m bot` imports on its way to polling (some lazily): imported here once, shared by every child.
import bot.__main__ as entry
import bot.app
import bot.devkit.playground
import bot.middlewares.telegram
import bot.runners
import bot.storage.postgres  # asyncpg: DATABASE_URL=postgresql://…
from tests.support.zygote import reaped


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _child(request: dict[str, Any], close: list[int]) -> None:
    """In the forked child: become `python -m bot` with the request's environment. Never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in close:
            os.close(fd)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if "err" in request else log
        source = os.open(request.get("stdin") or os.devnull, os.O_RDONLY)
        os.dup2(source, 0)
        os.dup2(log, 1)
        os.dup2(err, 2)
        for fd in {log, err, source}:
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        _streams(request)
        args = [str(a) for a in request.get("args", [])]
        module = request.get("module")
        if module:
            sys.argv = [str(module), *args]
            runpy.run_module(str(module), run_name="__main__", alter_sys=True)
            code = 0
        else:
            sys.argv = ["python -m bot", *args]
            code = entry.main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _streams(request: dict[str, Any]) -> None:
    """The standard streams on fds 0-2 as a fresh `python` would open them with this environment: unbuffered
    output with PYTHONUNBUFFERED (what `python -u` does; some tests read the output line by line), and
    PYTHONIOENCODING's encoding. Left as they are when neither is set and stdin is not asked for."""
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    encoding = os.environ.get("PYTHONIOENCODING", "").partition(":")[0] or None
    if not (unbuffered or encoding or request.get("stdin")):
        return
    sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False), encoding=encoding)  # noqa: SIM115 — as long as the process
    for fd, errors in ((1, "strict"), (2, "backslashreplace")):
        raw = open(fd, "wb", buffering=0 if unbuffered else -1, closefd=False)  # noqa: SIM115 — as long as the process
        stream = io.TextIOWrapper(raw, encoding=encoding, errors=errors, write_through=unbuffered)
        if fd == 1:
            sys.stdout = stream
        else:
            sys.stderr = stream


def _reap(children: set[int]) -> None:
    for pid, code in reaped():
        children.discard(pid)
        _emit({"exit": pid, "status": code})


# Settings good enough to validate (nothing is started with them): see warm.
WARM_ENV = {
    "BOT_TOKEN": "1:warm",
    "SMSKA_API_KEY": "warm",
    "SMSKA_API_PASSWORD": "warm",
    "SMSKA_SENDER_IDS": "Warm",
    "ADMIN_IDS": "1",
}


def warm() -> None:
    """Pays, once and here, what every child would pay at its start: the first settings validation in a process
    walks pydantic's class tree for its subclass checks (~0.2 s of CPU with the dev kit imported; the caches are
    then inherited). Then `gc.freeze()`: the children's collections leave the parent's objects, and so their
    shared pages, alone."""
    from bot.config import load_settings

    saved = dict(os.environ)
    os.environ.update(WARM_ENV)
    try:
        load_settings()
    except Exception:  # a warm-up only: a child reports its own settings' errors
        pass
    finally:
        os.environ.clear()
        os.environ.update(saved)
    bot.middlewares.telegram.tls_context()  # the gateway client's TLS context (reads the CA bundle), built once for all children
    gc.collect()
    gc.freeze()


def main() -> int:
    warm()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd hears of it
    stdin = sys.stdin.fileno()
    children: set[int] = set()
    pending = b""
    _emit({"ready": os.getpid()})
    try:
        while True:
            readable, _, _ = select.select([stdin, wake_r], [], [])
            if wake_r in readable:
                while True:
                    try:
                        if not os.read(wake_r, 512):
                            break
                    except BlockingIOError:
                        break
                _reap(children)
            if stdin not in readable:
                continue
            chunk = os.read(stdin, 65536)
            if not chunk:
                return 0
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if not line.strip():
                    continue
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request, [wake_r, wake_w])
                children.add(pid)
                _emit({"pid": pid})
    finally:
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        while children:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            children.discard(pid)


if __name__ == "__main__":
    sys.exit(main())
