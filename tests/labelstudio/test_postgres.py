"""Label Studio on PostgreSQL: a real cluster under the data dir, a team of annotators at once."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from corpus.annotations import lsformat
from corpus.core import taxonomy
from corpus.core.model import Annotation, Entity, Span
from corpus.ingest.importer import import_paths
from corpus.labelstudio import postgres
from corpus.labelstudio import server as lsserver
from corpus.labelstudio.client import LSClient
from corpus.labelstudio.pull import pull
from corpus.labelstudio.push import push
from corpus.store.snapshot import iter_snapshot_records
from corpus.store.table import CorpusStore

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]
ANNOTATORS = 8
PER_ANNOTATOR = 4


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@pytest.fixture(scope="module")
def pg_server():
    """Label Studio on a PostgreSQL cluster of its own (outside pytest's 0700 temp root: as root,
    the ``postgres`` system user must be able to walk down to the cluster)."""
    try:
        binary = lsserver.find_binary()
        postgres.bin_dir()
    except Exception as e:  # noqa: BLE001  (either is an environment gap)
        if _in_ci():
            pytest.fail(f"Label Studio and PostgreSQL are required in CI: {e}")
        pytest.skip(f"needs Label Studio and PostgreSQL: {e}")
    root = Path(tempfile.mkdtemp(prefix="newscorpus-pg-", dir="/tmp"))
    root.chmod(0o711)
    data_dir = root / "ls"
    creds = lsserver.Credentials("admin@example.com", secrets.token_urlsafe(16), secrets.token_hex(20), "test")
    info = lsserver.start(
        data_dir, lsserver.free_port(), creds=creds, binary=binary, database="postgresql", timeout=600
    )
    client = LSClient(info.url, creds.token)
    try:
        yield info, client, data_dir
    finally:
        client.close()
        lsserver.stop(data_dir)
        shutil.rmtree(root, ignore_errors=True)


def test_server_runs_on_its_own_postgresql(pg_server):
    info, client, data_dir = pg_server
    assert info.database == "postgresql"
    assert lsserver.status(data_dir)["database"] == "postgresql"
    assert not (data_dir / "label_studio.sqlite3").exists()  # nothing went to SQLite
    c = postgres.cluster(data_dir)
    assert c is not None and postgres.running(c)
    assert (data_dir / "postgres" / "credentials.json").stat().st_mode & 0o077 == 0
    # PostgreSQL listens on loopback only: the port answers on 127.0.0.1 and the config says so
    with socket.create_connection(("127.0.0.1", c.port), timeout=2):
        pass
    assert client.whoami()["email"] == "admin@example.com"


def test_team_submits_at_once_and_every_annotation_comes_back_once(pg_server, tmp_path):
    info, client, data_dir = pg_server
    tax = taxonomy.load()
    src = tmp_path / "src"
    src.mkdir()
    for i in range(PER_ANNOTATOR):
        (src / f"a{i}.txt").write_text(f"Story {i}: Sean Parnell spoke in Syria on day {i}.\n", encoding="utf-8")
    store = CorpusStore(str(tmp_path / "store"))
    import_paths([src], store, source="pg")
    rep = push(client, store, "pg-team")
    assert rep.pushed == PER_ANNOTATOR and not rep.errors
    tasks = list(client.task_data(rep.project_id))
    users = [client.create_user(f"ann{k}@example.com", f"pw-ann{k}-123456")["id"] for k in range(ANNOTATORS)]
    label = tax.entity_labels()[0]

    def annotate(user: int) -> list[int]:
        made = []
        for t in tasks:
            text = t["data"]["text"]
            start = text.index("Sean")
            ann = Annotation(
                t["data"]["doc_id"],
                "",
                "x",
                entities=[Entity("e1", label, Span.from_offsets(text, [(start, start + 11)]))],
            )
            made.append(
                client.create_annotation(t["id"], lsformat.to_labelstudio(ann, text, tax), completed_by=user)["id"]
            )
        return made

    with ThreadPoolExecutor(ANNOTATORS) as pool:
        ids = [i for made in pool.map(annotate, users) for i in made]
    assert len(ids) == len(set(ids)) == ANNOTATORS * PER_ANNOTATOR

    out = tmp_path / "snap"
    report = pull(client, "pg-team", out=out)
    records = [r for _f, _no, r in iter_snapshot_records(out)]
    got = sorted(r["annotation_id"] for r in records)
    assert got == sorted(ids), report.to_dict()
    pairs = {(r["annotator"], r["task_id"]) for r in records}
    assert len(pairs) == len(records)  # no annotator's task twice


def test_stop_stops_the_cluster_too(tmp_path):
    """A data dir that never started has no cluster; stop says so and touches nothing."""
    assert postgres.cluster(tmp_path) is None
    assert postgres.stop(tmp_path) is False
    assert json.loads(json.dumps(lsserver.stop(tmp_path)))["stopped"] is False
