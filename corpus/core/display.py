"""Making untrusted strings safe to show: paths and URLs in messages.

A file name may hold a newline or other control characters (``x\\nerror: fake``): printed raw it
fakes extra report lines. A URL may carry a password (``http://user:secret@host``): it must never
appear in a message. Every message that shows a path or a server URL goes through these.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

# C0 and C1 controls, DEL, the Unicode line / paragraph separators, and lone surrogates
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\\\\]")


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    if c == "\\":
        return "\\\\"
    return repr(c)[1:-1] if c in "\n\r\t" else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(path: str | os.PathLike[str], *, backslashes: bool = True) -> str:
    """``path`` with control characters (and backslashes, so the form is unambiguous) escaped as
    in Python literals: one line, always; a plain path is returned unchanged. ``backslashes=False``
    for a whole message (which may hold a path): only the controls are escaped."""
    s = os.fspath(path)
    if isinstance(s, bytes):
        s = os.fsdecode(s)
    pattern = _UNSAFE if backslashes else _CONTROLS
    if not pattern.search(s):
        return s
    return pattern.sub(_escape, s)


_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]*@)")


def redact_url(url: str) -> str:
    """``url`` without its password: ``http://user:***@host:8080/path`` (``http://***@host`` when
    the userinfo has no password: it may be a token). Used for every message showing a server URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    # user:password@ keeps the user; a lone user@ may itself be a secret (a token): all of it goes
    user = parts.username if parts.password is not None else None
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}" if user else f"***@{host}"))


def redact_text(text: str) -> str:
    """Any ``scheme://user:password@`` inside ``text`` (an error message from a library that
    echoed the URL) with the userinfo replaced by ``***@``."""
    return _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)
