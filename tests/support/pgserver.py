"""A throwaway PostgreSQL server for the tests: the one helper that `.ci/run` and the test fixtures use.

    python -m tests.support.pgserver start DIR     initdb in DIR (as an unprivileged user when run as root), start the
                                           server on 127.0.0.1 and a free port, print its DATABASE_URL
    python -m tests.support.pgserver stop DIR      stop the server started in DIR

Debian's server binaries are looked for in /usr/lib/postgresql/*/bin (or `PG_BIN`); `start --install` runs
`apt-get install -y postgresql` when they are missing (CI does). The server is tuned for tests (no fsync): never
keep data in it. The superuser is `postgres` with a random password (the URL carries it); each test gets a fresh
database of its own (`create_database`).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

USER = "pgtest"  # the unprivileged account the server runs as when we are root (PostgreSQL refuses root)
URL_FILE = "url"


def find_bin() -> Path | None:
    if os.environ.get("PG_BIN"):
        path = Path(os.environ["PG_BIN"])
        return path if (path / "initdb").exists() else None
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def install() -> Path | None:
    """apt-get install postgresql (Debian: binaries only; its own cluster is not started: policy-rc.d)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    return find_bin()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> tuple[list[str], int | None, int | None]:
    """The command prefix, uid and gid to run the server as: ourselves, or `pgtest` when we are root."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        entry = pwd.getpwnam(USER)
    return [], entry.pw_uid, entry.pw_gid


def _run(cmd: list[str], uid: int | None, gid: int | None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    def demote() -> None:
        if gid is not None and uid is not None:
            os.setgid(gid)
            os.setuid(uid)

    return subprocess.run(cmd, preexec_fn=demote, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


def start(base: Path, *, allow_install: bool = False) -> str:
    """Start a server whose files live in `base`; return its URL (postgresql://postgres:…@127.0.0.1:port/postgres).
    A server already running there is reused."""
    url_file = base / URL_FILE
    if url_file.exists() and (base / "data" / "postmaster.pid").exists():
        return url_file.read_text().strip()
    binaries = find_bin() or (install() if allow_install else None)
    if binaries is None:
        raise RuntimeError("no PostgreSQL server binaries (apt-get install postgresql)")
    _, uid, gid = _as_user()
    base.mkdir(parents=True, exist_ok=True)
    data, sockets = base / "data", base / "sock"
    password = secrets.token_hex(12)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    sockets.mkdir(exist_ok=True)
    for path in (base, sockets, pwfile):
        if uid is not None and gid is not None:
            os.chown(path, uid, gid)
    if data.exists():
        shutil.rmtree(data)
    done = _run(
        [
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        uid,
        gid,
    )
    pwfile.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stderr.strip()[-500:]}")
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB"
    )
    done = _run(
        [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-o", options, "-w", "-t", "60", "start"],
        uid,
        gid,
    )
    if done.returncode != 0:
        log = (base / "log").read_text(errors="replace")[-800:] if (base / "log").exists() else ""
        raise RuntimeError(f"the test PostgreSQL server did not start: {done.stderr.strip()} {log}")
    url = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
    url_file.write_text(url + "\n")
    return url


def stop(base: Path) -> None:
    binaries = find_bin()
    data = base / "data"
    if binaries is None or not (data / "postmaster.pid").exists():
        return
    _, uid, gid = _as_user()
    _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], uid, gid)
    (base / URL_FILE).unlink(missing_ok=True)


def with_database(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.support.pgserver start|stop DIR [--install]", file=sys.stderr)
        return 2
    base = Path(argv[1]).resolve()
    if argv[0] == "stop":
        stop(base)
        return 0
    try:
        print(start(base, allow_install="--install" in argv))
    except RuntimeError as exc:
        print(f"PostgreSQL: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
