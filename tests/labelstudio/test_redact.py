"""A password inside LABEL_STUDIO_URL is never echoed: not in errors, reports or reprs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core.display import redact_text, redact_url
from corpus.core.errors import EXIT_ENVIRONMENT
from corpus.ingest.importer import import_paths
from corpus.labelstudio.client import LSClient
from corpus.labelstudio.server import free_port
from corpus.store.table import CorpusStore

SECRET = "s3cr3t-pw"


def test_redact_url_keeps_the_user_and_drops_the_password():
    assert redact_url(f"http://bob:{SECRET}@127.0.0.1:8080/x") == "http://bob:***@127.0.0.1:8080/x"
    assert redact_url(f"http://{SECRET}@h") == "http://***@h"
    assert redact_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert SECRET not in redact_text(f"failed: url 'https://bob:{SECRET}@h:1/api' said no")


@pytest.mark.parametrize(
    "args",
    [
        ["push", "--project", "p", "--retry-budget", "0.5"],
        ["pull", "--project", "p", "--retry-budget", "0.5"],
        ["status", "--project", "p", "--retry-budget", "0.5"],
    ],
)
def test_a_password_in_the_url_is_never_printed(tmp_path, args):
    url = f"http://annotator:{SECRET}@127.0.0.1:{free_port()}"
    env = {"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": "t" * 40, "CORPUS_STORE": str(tmp_path / "s")}
    extra = ["--out", str(tmp_path / "o")] if args[0] == "pull" else []
    (tmp_path / "a.txt").write_text("Title\nAn article about the harbour and the ferry.")
    import_paths([tmp_path / "a.txt"], CorpusStore(env["CORPUS_STORE"]))
    r = CliRunner(env=env).invoke(main, [*args, *extra])
    out = r.output + r.stderr
    assert r.exit_code in (EXIT_ENVIRONMENT, 1), out
    assert "***@127.0.0.1" in out, out
    assert SECRET not in out
    assert SECRET not in repr(LSClient(url, "t" * 40))
