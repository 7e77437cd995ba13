"""A warm spare for the smoke plan's echo bot: a process forked from the bench before its event loop starts
(aiogram and the bot already imported), which waits for one command and then runs the echo bot — the same code
as `python -m bench.echo`, without ~3 s of CPU importing aiogram again. The echo bot's start-up is not one of
the bench's measurements (its throughput, latency and CPU per update are, and they come after its start); full
and quick runs start it as a fresh interpreter all the same, so that nothing of the bench's heap is in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from bench.rig import Child, die_with_parent


class Spare:
    """Fork now (before any event loop, thread or connection exists); `start` hands the echo bot's arguments
    over a pipe. If the bench ends before that, the spare reads the pipe's end and exits."""

    def __init__(self) -> None:
        read, self._write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the spare itself
            os.close(self._write)
            _serve(read)
        os.close(read)
        self.pid = pid

    def start(self, argv: list[str], cwd: Path, log_path: Path) -> Forked:
        request = json.dumps({"argv": argv, "cwd": str(cwd), "log": str(log_path)}).encode()
        with os.fdopen(self._write, "wb") as pipe:
            pipe.write(request)
        return Forked(self.pid)


def _serve(read: int) -> NoReturn:
    code = 1
    try:
        die_with_parent()
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()  # all of it: the bench closes its end after writing
        if data:
            request = json.loads(data)
            os.chdir(request["cwd"])
            log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.close(log)
            from bench import echo

            code = echo.main(request["argv"])
        else:
            code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class Forked:
    """The spare once started, with the part of asyncio.subprocess.Process that Child uses (the bench's own
    child: it is reaped here, through a pidfd that becomes readable when it ends)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._ended: asyncio.Future[int] | None = None

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, number)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        if self._ended is None:
            loop = asyncio.get_running_loop()
            ended: asyncio.Future[int] = loop.create_future()
            fd = os.pidfd_open(self.pid)

            def reap() -> None:
                loop.remove_reader(fd)
                os.close(fd)
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
                ended.set_result(self.returncode)

            loop.add_reader(fd, reap)
            self._ended = ended
        return await asyncio.shield(self._ended)


class ForkedChild(Child):
    """A Child whose process is the spare, running `python -m bench.echo ARGV` (the args after `-m bench.echo`)."""

    def __init__(self, spare: Spare, args: list[str], cwd: Path, log_path: Path) -> None:
        super().__init__(args, dict(os.environ), cwd, log_path)
        self.spare = spare

    async def _spawn(self) -> Forked:
        return self.spare.start(self.args[3:], self.cwd, self.log_path)
