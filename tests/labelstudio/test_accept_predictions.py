"""`corpus accept-predictions` (the demo's stand-in for an annotator) against a real Label Studio:
predictions become annotations by the bot user, marked on pull, and a second run adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.ingest.importer import import_paths
from corpus.labelstudio.pull import pull
from corpus.labelstudio.push import MACHINE_ANNOTATOR, push
from corpus.predict.preannotate import RuleAttributionPreannotator
from corpus.store.snapshot import load_annotations as read_snapshot
from corpus.store.table import CorpusStore

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
PROJECT = "t-accept"

pytestmark = pytest.mark.labelstudio


def test_accepted_predictions_come_back_marked_machine_made(labelstudio, tmp_path):
    store = CorpusStore(str(tmp_path / "store"))
    import_paths([SEEDS], store)
    rep = push(labelstudio.client, store, PROJECT, preannotator=RuleAttributionPreannotator())
    assert rep.pushed == 1 and not rep.errors

    env = {"LABEL_STUDIO_URL": labelstudio.url, "LABEL_STUDIO_API_KEY": labelstudio.token}
    first = CliRunner().invoke(main, ["accept-predictions", "--project", PROJECT, "--json"], env=env)
    assert first.exit_code == 0, first.output
    assert '"accepted": 1' in first.output
    again = CliRunner().invoke(main, ["accept-predictions", "--project", PROJECT, "--json"], env=env)
    assert '"accepted": 0' in again.output and '"already_annotated": 1' in again.output

    report = pull(labelstudio.client, PROJECT, out=tmp_path / "snap")
    (ann,) = read_snapshot(report.snapshot)
    assert ann.annotator == MACHINE_ANNOTATOR
    assert isinstance(ann.meta.get("parent_prediction"), int)
    assert ann.attributions, "the rule pre-annotator finds attributions in the seed article"
    art = next(store.iter_articles())
    for a in ann.attributions:
        assert a.cue.text == a.cue.expected_text(art.text)


def test_accept_predictions_on_a_missing_project_is_a_clear_error(labelstudio):
    env = {"LABEL_STUDIO_URL": labelstudio.url, "LABEL_STUDIO_API_KEY": labelstudio.token}
    r = CliRunner().invoke(main, ["accept-predictions", "--project", "no-such-project-xyz"], env=env)
    assert r.exit_code == 1
    assert "no Label Studio project" in r.output
