"""The annotator's experience, end to end, in a real browser against the real Label Studio.

seed article -> temporary store (corpus.ingest.importer) -> ``corpus push`` to the session's Label Studio
-> an annotator signs up through the organization's invite link and logs in at /user/login
-> "Label All Tasks" opens the labeling screen: the three layers' labels (names and hotkeys from
   corpus.core.taxonomy) render, with no page errors
-> the annotator presses ORG's hotkey, drags over "Al Hadath TV", submits
-> ``corpus pull`` writes a snapshot holding that ORG entity, by that annotator, at the code-point
   offsets of "Al Hadath TV" in the stored text.

Chromium is Debian's package (``make install-browser``), driven by Playwright; Playwright never
downloads a browser here. Every request that leaves the server's origin is aborted: the test runs
offline. A screenshot of the labeling screen is saved in the test's tmp dir, and also copied to
$CORPUS_SCREENSHOT_DIR when set. annotations/labeling-screen.png (shown in the README) is such a
screenshot, reduced to a 256-colour palette with Pillow to keep the repository small.

Label Studio 1.23 behaviour this test relies on (found by exploring; see the helpers):
* the Text tag renders in the page itself (no iframe): ``.lsf-htx-richtext`` holds one
  ``span.lsf-richtext__line`` per line, separated by ``<br>``;
* a label hotkey pressed while text is selected does NOT label the selection; the label must be
  active first (hotkey), then the drag creates the region (``granularity="word"`` snaps it to words);
* the admin's ``POST /api/users`` ignores a password, so such a user cannot log in; an annotator
  gets an account the way a real one does: the organization's invite link (/user/signup?token=).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.labelstudio, pytest.mark.slow]

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_b18206fd37d6bce2.txt"
NEEDLE = "Al Hadath TV"  # in the seed: "According to Al Hadath TV, the attack originated ..."
NEEDLE_LABEL = "ORG"
VIEWPORT = {"width": 1280, "height": 860}
TIMEOUT_MS = 30_000

# Chromium flags: headless, no sandbox (containers run as root), and nothing that phones home.
# Console errors we tolerate, each with the reason it says nothing about our labeling screen.
# Everything else logged at level "error" fails the test, as does any uncaught page error.
BENIGN_CONSOLE_ERRORS: list[tuple[str, str]] = [
    (
        r"^Failed to load resource: net::ERR_FAILED$",
        "a request to another host, aborted by this test's offline route (only counted as benign "
        "when the failed URL is not on the Label Studio server)",
    ),
]


class Watch:
    """Page errors, console errors and off-server requests of one browser context."""

    def __init__(self, origin: str):
        self.origin = origin
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.benign: list[str] = []
        self.blocked: list[str] = []

    def route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.origin + "/heidi-tips"):
            # The server would fetch "tips" from raw.githubusercontent.com for this: answer for it.
            route.fulfill(status=200, content_type="application/json", body="{}")
        elif url.startswith(self.origin + "/") or url == self.origin:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def attach(self, page) -> None:
        page.on("pageerror", lambda e: self.page_errors.append(f"{page.url}: {e}"))
        page.on("console", self._console)

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url") or ""
        text = f"{msg.text} [at {where or '?'}]"
        off_server = bool(where) and not where.startswith(self.origin)
        for pattern, _why in BENIGN_CONSOLE_ERRORS:
            if re.search(pattern, msg.text) and off_server:
                self.benign.append(text)
                return
        self.console_errors.append(text)

    def assert_clean(self, when: str) -> None:
        assert not self.page_errors, f"uncaught page errors {when}: {self.page_errors}"
        assert not self.console_errors, f"console errors {when}: {self.console_errors}"
        # With telemetry off (corpus.labelstudio.server.QUIET_ENV) the UI asks nothing of other hosts.
        assert not self.blocked, f"the page tried to reach other hosts {when}: {self.blocked}"


# ---------------------------------------------------------------- what the taxonomy says


def config_layers(label_config: str) -> dict[str, list[list[str | None]]]:
    """Labels tag name -> [(label value, hotkey)] in document order, from the generated config."""
    root = ET.fromstring(label_config)
    return {
        el.get("name"): [[lab.get("value"), lab.get("hotkey")] for lab in el.iter("Label")]
        for el in root.iter("Labels")
    }


# ---------------------------------------------------------------- UI steps


def sign_up(browser, url: str, invite_path: str, email: str, password: str) -> None:
    """An annotator accepts the invite link (own throwaway browser context, like another device)."""
    ctx = browser.new_context(viewport=VIEWPORT)
    watch = Watch(url)
    ctx.route("**/*", watch.route)
    try:
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url + invite_path)
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "/user/signup" not in page.url, (
            f"sign-up did not go through: {page.url}\n{page.inner_text('body')[:500]}"
        )
    finally:
        ctx.close()


def log_in(page, url: str, email: str, password: str) -> None:
    page.goto(url + "/user/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/user/login" not in page.url, f"login failed: {page.inner_text('body')[:500]}"


# Client rectangles of the first occurrence of `needle` in the rendered text, found through the
# DOM text nodes (the needle may span several nodes once regions are highlighted).
_FIND_TEXT_JS = """
(needle) => {
  const root = document.querySelector('.lsf-htx-richtext');
  if (!root) return null;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = []; let all = ''; let n;
  while ((n = walker.nextNode())) { nodes.push([n, all.length]); all += n.data; }
  const at = all.indexOf(needle);
  if (at < 0) return null;
  const locate = (pos) => {
    for (let i = nodes.length - 1; i >= 0; i--) if (nodes[i][1] <= pos) return [nodes[i][0], pos - nodes[i][1]];
  };
  const range = document.createRange();
  range.setStart(...locate(at));
  range.setEnd(...locate(at + needle.length - 1)); range.setEnd(range.endContainer, range.endOffset + 1);
  range.startContainer.parentElement.scrollIntoView({block: 'nearest'});
  const rects = Array.from(range.getClientRects()).filter(r => r.width > 0);
  const a = rects[0], b = rects[rects.length - 1];
  return {x1: a.left + 2, y1: a.top + a.height / 2, x2: b.right - 2, y2: b.top + b.height / 2};
}
"""


def drag_over_text(page, needle: str) -> None:
    box = page.evaluate(_FIND_TEXT_JS, needle)
    assert box, f"{needle!r} is not in the rendered text"
    page.mouse.move(box["x1"], box["y1"])
    page.mouse.down()
    page.mouse.move(box["x2"], box["y2"], steps=8)
    page.mouse.up()


def rendered_label_groups(page) -> list[list[list[str | None]]]:
    """Each rendered Labels block as [[label text, hotkey shown]]."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.lsf-labels')).map(g =>
             Array.from(g.querySelectorAll('.lsf-label')).map(l => [
               (l.querySelector('.lsf-label__text') || l).textContent.trim(),
               (l.querySelector('.lsf-label__hotkey') || {textContent: null}).textContent]))"""
    )


def save_screenshot(page, tmp_path: Path) -> Path:
    shot = tmp_path / "labeling-screen.png"
    page.screenshot(path=str(shot))
    extra = os.environ.get("CORPUS_SCREENSHOT_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(extra) / shot.name)
    return shot


# ---------------------------------------------------------------- the test


def test_annotator_labels_an_entity_in_the_browser_and_pull_returns_it(browser, labelstudio, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from corpus.cli import main
    from corpus.core import taxonomy
    from corpus.ingest.importer import import_paths
    from corpus.store.table import CorpusStore

    ls = labelstudio
    # The CLI reads LABEL_STUDIO_URL / _API_KEY; keep it away from any real config file.
    monkeypatch.setenv("NEWSCORPUS_CONFIG_DIR", str(tmp_path / "config"))
    env = {**ls.env, "NEWSCORPUS_CONFIG_DIR": str(tmp_path / "config")}
    runner = CliRunner()

    # 1. the seed article in a fresh store, pushed to a project of its own
    store_uri = str(tmp_path / "store")
    store = CorpusStore(store_uri)
    report = import_paths([SEED], store, message="browser test")
    assert report.added == 1 and not report.errors, report
    article = next(iter(store.iter_articles()))
    start = article.text.index(NEEDLE)  # code points into the stored (NFC) text

    project = f"browser-{secrets.token_hex(4)}"
    res = runner.invoke(main, ["push", "--project", project, "--store", store_uri, "--json"], env=env)
    assert res.exit_code == 0, res.output
    pushed = json.loads(res.stdout)
    assert pushed["pushed"] == 1, pushed
    project_id = pushed["project_id"]
    task_ids = [tid for tid, _meta in ls.client.task_meta(project_id)]
    assert len(task_ids) == 1, task_ids

    proj = ls.client.get_project(project_id)
    layers = config_layers(proj["label_config"])
    tax = taxonomy.load()
    assert layers == config_layers(taxonomy.labelstudio_config(tax)), "the project's config is not the generated one"
    names = {layer: [value for value, _key in labels] for layer, labels in layers.items()}
    assert names == {
        "entity": list(taxonomy.entity_labels(tax)),
        "event": list(taxonomy.event_types(tax)),
        "attribution": list(taxonomy.attribution_spans(tax)),
    }, names
    hotkey = dict(layers["entity"])[NEEDLE_LABEL]
    assert hotkey, f"{NEEDLE_LABEL} has no hotkey in the generated config"

    # 2. an annotator joins through the invite link, then logs in like any other day
    invite = ls.client.sdk.organizations.invites.get_invite_link().invite_url
    email, password = f"annotator-{secrets.token_hex(3)}@example.com", secrets.token_urlsafe(12)
    sign_up(browser, ls.url, invite, email, password)

    ctx = browser.new_context(viewport=VIEWPORT)
    watch = Watch(ls.url)
    ctx.route("**/*", watch.route)
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch.attach(page)
    try:
        log_in(page, ls.url, email, password)

        # 3. "Label All Tasks": the label stream serves the project's only task
        page.goto(f"{ls.url}/projects/{project_id}/data?labeling=1")
        page.locator(".lsf-htx-richtext").wait_for()
        page.locator(".lsf-htx-richtext", has_text=NEEDLE).wait_for()

        if proj.get("show_instruction") and proj.get("expert_instruction"):
            # The stream opens with the project's guidelines in a modal: read, then close it.
            modal = page.locator(".lsf-modal-ls__content", has_text="Labeling Instructions")
            modal.wait_for()
            modal.get_by_role("button", name="Close modal").click()
            modal.wait_for(state="hidden")

        groups = rendered_label_groups(page)
        expected = [layers[name] for name in layers]  # Labels blocks render in config order
        assert groups == expected, f"rendered labels differ from the taxonomy's:\n{groups}\n!=\n{expected}"
        watch.assert_clean("while loading the labeling screen")

        # 4. ORG's hotkey, then drag over the words: one ORG region
        page.keyboard.press(hotkey)
        drag_over_text(page, NEEDLE)
        page.locator(".htx-highlight").first.wait_for()
        region_texts = page.locator(".htx-highlight").all_inner_texts()
        assert NEEDLE in " ".join(region_texts), region_texts
        shot = save_screenshot(page, tmp_path)
        assert shot.stat().st_size > 10_000

        # 5. submit; a validation dialog instead of the POST means the config blocks the annotator
        submit = page.get_by_test_id("bottombar-submit-button")
        try:
            with page.expect_response(
                lambda r: r.request.method == "POST" and re.search(r"/api/tasks/\d+/annotations", r.url) is not None,
                timeout=15_000,
            ) as posted:
                submit.click()
        except Exception as e:  # playwright's TimeoutError: say what the annotator saw instead
            dialog = page.locator(".ant-modal-content, [role=dialog]")
            seen = dialog.first.inner_text() if dialog.count() else page.inner_text("body")[:300]
            raise AssertionError(f"submitting sent no annotation ({type(e).__name__}); the screen shows: {seen}") from e
        assert posted.value.status == 201, posted.value.text()
        assert f"/api/tasks/{task_ids[0]}/annotations" in posted.value.url
        watch.assert_clean("while labeling and submitting")
    finally:
        ctx.close()

    # 6. pull: the region comes back as a canonical ORG entity at the right code points
    out = tmp_path / "annotations"
    res = runner.invoke(main, ["pull", "--project", project, "--out", str(out), "--json"], env=env)
    assert res.exit_code == 0, res.output
    pulled = json.loads(res.stdout)
    assert pulled["written"] == 1 and pulled["invalid"] == 0, pulled
    records = [json.loads(line) for line in Path(pulled["snapshot"]).read_text(encoding="utf-8").splitlines()]
    assert len(records) == 1
    rec = records[0]
    assert rec["annotator"] == email
    assert rec["doc_id"] == article.doc_id and rec["text_sha256"] == article.text_sha256
    assert rec["task_id"] == task_ids[0]
    ents = [e for e in rec["entities"] if e["label"] == NEEDLE_LABEL]
    assert len(ents) == 1, rec["entities"]
    assert ents[0]["fragments"] == [{"start": start, "end": start + len(NEEDLE)}]
    assert ents[0]["text"] == NEEDLE
    assert article.text[start : start + len(NEEDLE)] == NEEDLE
