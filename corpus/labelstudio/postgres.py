"""A PostgreSQL database for the local Label Studio server: one cluster per Label Studio data dir.

Label Studio keeps SQLite for trials and recommends PostgreSQL for teams (several annotators
submitting at once: SQLite serializes every write behind one file lock). ``corpus labelstudio
start --database postgresql`` runs the server on a cluster that lives under the data dir
(``<data_dir>/postgres/``), made and started by this module with the system's PostgreSQL
binaries (Debian: ``apt-get install postgresql``; ``make install-postgresql`` does it):

* ``initdb`` with SCRAM authentication for one role, its password generated here and kept in
  ``<data_dir>/postgres/credentials.json`` (mode 0600), handed to Label Studio through its
  environment, never printed;
* the server listens on 127.0.0.1 only, on a free port chosen at first start and remembered, with
  its Unix socket inside the cluster folder (no system-wide ``/var/run/postgresql`` needed);
* PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres`` system user
  (created by the Debian package) and the binaries run through ``runuser``.

The cluster is stopped with the Label Studio server (``corpus labelstudio stop``).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.core import atomic
from corpus.core.errors import EnvironmentProblem

DIR_NAME = "postgres"
DATABASE = "labelstudio"
ROLE = "labelstudio"
SYSTEM_USER = "postgres"  # the owner of the cluster when we run as root
_INSTALL_HINT = (
    "install PostgreSQL from the system's packages (Debian/Ubuntu: `sudo apt-get install postgresql`, "
    "or `make install-postgresql`), or point CORPUS_PG_BIN at the folder holding initdb and pg_ctl"
)


class PostgresProblem(EnvironmentProblem):
    """PostgreSQL is missing, cannot be initialized or does not start."""

    code = "E910"


@dataclass
class Cluster:
    root: Path  # <data_dir>/postgres
    port: int
    password: str

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def django_env(self) -> dict[str, str]:
        """What Label Studio reads to use this database (``core/settings/base.py``)."""
        return {
            "DJANGO_DB": "default",  # Label Studio's name for its PostgreSQL settings
            "POSTGRE_NAME": DATABASE,
            "POSTGRE_USER": ROLE,
            "POSTGRE_PASSWORD": self.password,
            "POSTGRE_HOST": "127.0.0.1",
            "POSTGRE_PORT": str(self.port),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": "postgresql",
            "host": "127.0.0.1",
            "port": self.port,
            "database": DATABASE,
            "data": str(self.data),
            "log": str(self.log),
        }


def bin_dir() -> Path:
    """The folder of ``initdb`` / ``pg_ctl``: $CORPUS_PG_BIN, PATH, or Debian's versioned folder."""
    env = os.environ.get("CORPUS_PG_BIN")
    candidates = [Path(env)] if env else []
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "pg_ctl").is_file():
            return c
    raise PostgresProblem("PostgreSQL is not installed (no initdb / pg_ctl found)", hint=_INSTALL_HINT)


def _as_owner() -> list[str]:
    """Command prefix that runs a PostgreSQL binary as a non-root user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise PostgresProblem(
            f"running as root, and there is no {SYSTEM_USER!r} system user to own the PostgreSQL cluster",
            hint=_INSTALL_HINT,
        ) from None
    return ["runuser", "-u", SYSTEM_USER, "--"]


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam(SYSTEM_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _let_owner_through(root: Path) -> None:
    """As root, the ``postgres`` user must be able to walk down to the cluster: the data dir (ours)
    gets search permission for others (0711: no listing); a parent we do not own must allow it."""
    data_dir = root.parent
    os.chmod(data_dir, os.stat(data_dir).st_mode & 0o777 | 0o111)
    for parent in data_dir.parents:
        if not os.stat(parent).st_mode & 0o001:
            raise PostgresProblem(
                f"the {SYSTEM_USER} system user, which must own the PostgreSQL cluster when running as root, "
                f"cannot enter {parent}",
                hint=f"keep the Label Studio data dir under folders others may enter (chmod o+x {parent}), "
                "or run as a non-root user",
            )


def _run(args: list[str], what: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(_as_owner() + args, capture_output=True, text=True, timeout=timeout, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PostgresProblem(f"{what} failed: {e}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise PostgresProblem(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _credentials_file(root: Path) -> Path:
    return root / "credentials.json"


def cluster(data_dir: Path | str) -> Cluster | None:
    """The cluster of a Label Studio data dir, or None when it has none."""
    root = Path(data_dir).resolve() / DIR_NAME
    try:
        rec = json.loads(_credentials_file(root).read_text())
    except (OSError, ValueError):
        return None
    return Cluster(root, int(rec["port"]), str(rec["password"]))


def ensure(data_dir: Path | str) -> Cluster:
    """The cluster of ``data_dir``, made on first use (``initdb``; a few seconds)."""
    existing = cluster(data_dir)
    if existing is not None and (existing.data / "PG_VERSION").is_file():
        return existing
    bins = bin_dir()
    root = Path(data_dir).resolve() / DIR_NAME
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    if os.geteuid() == 0:
        _let_owner_through(root)
    c = Cluster(root, _free_port(), secrets.token_urlsafe(24))
    if c.data.exists():  # a half-made cluster of a killed first start
        shutil.rmtree(c.data)
    for d in (c.data, c.socket_dir):
        d.mkdir(mode=0o700)
        _chown(d)
    _chown(root)
    pwfile = root / ".pwfile"
    atomic.write_text(pwfile, c.password + "\n", permissions=0o600)  # never readable by others
    _chown(pwfile)
    try:
        _run(
            [
                str(bins / "initdb"),
                "-D",
                str(c.data),
                "-U",
                ROLE,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            "initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    creds = _credentials_file(root)
    atomic.write_text(creds, json.dumps({"port": c.port, "password": c.password}), permissions=0o600)
    return c


def running(c: Cluster) -> bool:
    return (c.data / "postmaster.pid").is_file() and _accepts(c)


def _accepts(c: Cluster) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", c.port), timeout=1):
            return True
    except OSError:
        return False


def start(data_dir: Path | str, *, timeout: float = 60) -> Cluster:
    """Start the cluster of ``data_dir`` (made when missing) and create Label Studio's database."""
    c = ensure(data_dir)
    bins = bin_dir()
    if not running(c):
        if not (c.data / "postmaster.pid").is_file() and _accepts(c):
            raise PostgresProblem(
                f"port {c.port} on 127.0.0.1 is taken by another program",
                hint=f"stop it, or remove {c.root} to start over with a new cluster",
            )
        if c.log.exists():
            _chown(c.log)
        opts = f"-p {c.port} -k {c.socket_dir} -c listen_addresses=127.0.0.1"
        _run(
            [
                str(bins / "pg_ctl"),
                "-D",
                str(c.data),
                "-l",
                str(c.log),
                "-o",
                opts,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            "starting PostgreSQL",
            timeout=timeout + 10,
        )
    env = {**os.environ, "PGPASSWORD": c.password}
    psql = [str(bins / "psql"), "-h", "127.0.0.1", "-p", str(c.port), "-U", ROLE, "-d", "postgres", "-tAc"]
    deadline = time.monotonic() + timeout
    while True:
        q = subprocess.run(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"], capture_output=True, text=True, env=env
        )
        if q.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise PostgresProblem(f"PostgreSQL on 127.0.0.1:{c.port} does not answer: {q.stderr.strip()[-300:]}")
        time.sleep(0.3)
    if q.stdout.strip() != "1":
        made = subprocess.run([*psql, f"CREATE DATABASE {DATABASE}"], capture_output=True, text=True, env=env)
        if made.returncode != 0:
            raise PostgresProblem(f"cannot create database {DATABASE}: {made.stderr.strip()[-300:]}")
    return c


def stop(data_dir: Path | str) -> bool:
    """Stop the cluster of ``data_dir`` (fast shutdown); False when there is none or it was not running."""
    c = cluster(data_dir)
    if c is None or not (c.data / "postmaster.pid").is_file():
        return False
    _run([str(bin_dir() / "pg_ctl"), "-D", str(c.data), "-m", "fast", "-w", "stop"], "stopping PostgreSQL")
    return True
