"""A POST whose response is lost is never sent again (by us or by the SDK's own retries).

Found by ``bench/bench_annotators.py`` on SQLite under load: one annotation more in the pull than the
API had acknowledged. The SDK repeats a request that got a 5xx; for a POST that had landed, the
repeat made the annotator a second annotation. Here a small forwarding proxy in front of the real
server lets the first annotation POST through and answers 502, as a loaded server or a proxy might.
"""

from __future__ import annotations

import http.server
import threading
import urllib.request

import pytest

from corpus.core.errors import LabelStudioUnavailable
from corpus.labelstudio.client import LSClient


class _LosesFirstAnnotationResponse(http.server.BaseHTTPRequestHandler):
    upstream = ""
    lost = 0
    posts = 0

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        req = urllib.request.Request(self.upstream + self.path, data=body, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, data, ctype = r.status, r.read(), r.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as e:
            status, data, ctype = e.code, e.read(), e.headers.get("Content-Type", "application/json")
        cls = type(self)
        if self.command == "POST" and self.path.rstrip("/").endswith("/annotations"):
            cls.posts += 1
            if cls.lost == 0:  # it landed upstream; the answer is "lost"
                cls.lost += 1
                status, data, ctype = 502, b'{"detail": "bad gateway"}', "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def proxy(labelstudio):
    handler = type("Handler", (_LosesFirstAnnotationResponse,), {"upstream": labelstudio.url})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", handler
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_lost_annotation_response_is_not_repeated(labelstudio, proxy):
    url, handler = proxy
    admin = labelstudio.client
    project = admin.create_project("t-post-not-repeated", "<View><Text name='text' value='$text'/></View>")
    (task_id,) = admin.import_tasks(project["id"], [{"data": {"text": "Officials said so."}}])
    client = LSClient(url, labelstudio.token)
    try:
        with pytest.raises(LabelStudioUnavailable):
            client.create_annotation(task_id, [])
    finally:
        client.close()
    assert handler.posts == 1  # sent once: neither the SDK nor our client repeated it
    assert len(admin.annotations(task_id)) == 1  # it had landed: exactly one annotation
