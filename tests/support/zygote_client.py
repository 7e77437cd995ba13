"""`python ARGS` run by the zygote (tests/support/zygote.py): `python -S zygote_client.py SOCKET ARGS`.

Standard library only, and run with -S: it starts in a few milliseconds. It hands its fds 0-2, working
directory, environment and ARGS (`-c code ...` or `-m module ...`) to the zygote, which forks the process that
runs them; it passes SIGTERM, SIGINT and SIGHUP on to that process and ends as it ends (same exit code, or
killed by the same signal), so to its parent it is that process.
"""

import array
import json
import os
import signal
import socket
import struct
import sys


def main() -> int:
    path, argv = sys.argv[1], sys.argv[2:]
    payload = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    fds = array.array("i", [0, 1, 2])
    message = struct.pack("!I", len(payload)) + payload
    sent = conn.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
    if sent < len(message):
        conn.sendall(message[sent:])
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):  # the child has them now: the parent sees their end when the child ends
        os.dup2(null, fd)
    os.close(null)
    answers = conn.makefile("rb")
    pid = int(json.loads(answers.readline())["pid"])
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda n, _: os.kill(pid, n))
    line = answers.readline()
    if not line:
        sys.stderr.write("zygote_client: the zygote went away\n")
        return 1
    status = int(json.loads(line)["status"])
    if status < 0:
        if -status in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status  # a signal whose default is not to end the process
    return status


if __name__ == "__main__":
    sys.exit(main())
