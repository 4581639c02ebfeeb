"""A throwaway PostgreSQL cluster for the gradebook tests (and the autograde benchmark).

Installs nothing: it runs the binaries of Debian's ``postgresql`` package (``make test``
installs it, see the Makefile's ``postgres`` target) from ``/usr/lib/postgresql/<version>/bin``.
``initdb`` refuses to run as root, so as root the cluster runs as the system user ``coursepg``
(created for the cluster when missing, removed again afterwards). It lives in a new temporary
folder, listens on a unix socket in that folder and on no TCP port, trusts local connections
(only that user and root can enter the folder), and holds one database, ``course``.
Readiness is polled with ``pg_isready``; afterwards the server is stopped (killed if it will not
stop) and the folder removed.

    with throwaway_cluster() as db_url:   # postgresql+psycopg://coursepg@/course?host=/tmp/...
        ...

or, in a test module, ``from postgres_cluster import postgres_url`` and ask for the fixture.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Iterator

import pytest

USER = "coursepg"
DATABASE = "course"
PORT = 5432  # names the socket file (.s.PGSQL.5432) in the cluster's own folder; no TCP


def postgres_bin() -> pathlib.Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl."""
    found = sorted((p.parent for p in pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb")
                    if (p.parent / "pg_ctl").exists() and p.parent.parent.name.isdigit()),
                   key=lambda p: int(p.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: no /usr/lib/postgresql/<version>/bin/"
                           "initdb. Install Debian's `postgresql` package (`make postgres`, "
                           "which `make test` runs, or `apt-get install postgresql`)")
    return found[-1]


def _as_user(uid: int | None, gid: int | None) -> dict:
    if uid is None:
        return {}
    return {"user": uid, "group": gid, "extra_groups": []}


def _run(command: list[str], folder: pathlib.Path, ids: dict, what: str) -> None:
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"}, **ids)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): "
                           f"{(result.stdout + result.stderr).strip()[-2000:]}")


def _wait_until_ready(bin_dir: pathlib.Path, socket_dir: pathlib.Path, log: pathlib.Path,
                      deadline_s: float = 120) -> None:
    """Poll pg_isready until the server accepts connections (or the deadline passes)."""
    deadline = time.monotonic() + deadline_s
    while True:
        probe = subprocess.run([str(bin_dir / "pg_isready"), "-q", "-h", str(socket_dir),
                                "-p", str(PORT), "-d", "postgres"], timeout=60)
        if probe.returncode == 0:
            return
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not accept connections within {deadline_s:g} s"
                               f" (pg_isready: {probe.returncode}); server log:\n{tail}")
        time.sleep(0.1)  # between polls


def _postmaster_pid(data: pathlib.Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a cluster, yield the SQLAlchemy URL of its ``course`` database, then remove it."""
    bin_dir = postgres_bin()
    created_user = False
    uid = gid = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                            "/nonexistent", "--shell", "/usr/sbin/nologin", USER], check=True,
                           capture_output=True, timeout=60)
            created_user = True
        entry = pwd.getpwnam(USER)
        uid, gid = entry.pw_uid, entry.pw_gid
    role = USER if uid is not None else pwd.getpwuid(os.geteuid()).pw_name
    ids = _as_user(uid, gid)
    # short path: a unix socket's path is limited to 107 bytes
    folder = pathlib.Path(tempfile.mkdtemp(prefix="coursepg-", dir="/tmp"))
    data, log = folder / "data", folder / "server.log"
    started = False
    try:
        if uid is not None:
            os.chown(folder, uid, gid)
        os.chmod(folder, 0o700)
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", role, "--auth=trust",
              "--encoding=UTF8", "--no-locale", "--no-sync"], folder, ids, "initdb")
        options = (f"-c listen_addresses='' -c unix_socket_directories='{folder}' -p {PORT} "
                   "-c fsync=off -c max_connections=100")
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
              "--no-wait", "start"], folder, ids, "pg_ctl start")
        started = True
        _wait_until_ready(bin_dir, folder, log)
        _run([str(bin_dir / "createdb"), "-h", str(folder), "-p", str(PORT), "-U", role,
              DATABASE], folder, ids, "createdb")
        yield f"postgresql+psycopg://{role}@/{DATABASE}?host={folder}&port={PORT}"
    finally:
        try:
            if started:
                stop = subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                       "-w", "-t", "60", "stop"], cwd=folder, capture_output=True,
                                      timeout=120, env={"PATH": "/usr/bin:/bin"}, **ids)
                pid = _postmaster_pid(data)
                if stop.returncode != 0 and pid is not None:
                    os.kill(pid, signal.SIGKILL)  # the postmaster's children follow it
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if created_user:
                subprocess.run(["userdel", USER], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh database in a throwaway cluster, for one test module. Fails (does not
    skip) when PostgreSQL is not installed: the tests that ask for it are part of the suite."""
    try:
        bin_dir = postgres_bin()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    assert bin_dir.exists()
    with throwaway_cluster() as url:
        yield url
