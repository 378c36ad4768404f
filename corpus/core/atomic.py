"""The one way the toolkit writes a file: all of it or nothing.

A temporary file in the target's folder is written, flushed, fsynced and renamed over the
target, then the folder is fsynced (where the platform allows), so a crash, a full disk or an
exception in the middle leaves the old file as it was and no temporary file behind. Text,
bytes, and a streaming form (:func:`atomic_open`) for files written piece by piece (snapshots,
exports). A failure of the disk is raised as the environment problem it is
(:func:`corpus.core.errors.environment_error`: disk full, not writable).
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from corpus.core.errors import environment_error

# a write that fails with one of these is the disk's fault, wherever in the block it happened
_DISK_FAILED = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Discard(Exception):
    """Raised inside :func:`atomic_open`: leave the target as it was (the temporary file goes)."""


@contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
    permissions: int | None = None,
) -> Iterator[IO[Any]]:
    """Write ``path`` through a temporary file beside it: yields the open file (``mode`` "w" or
    "wb"); when the block ends without an exception the file replaces ``path``, else it is
    removed (:class:`Discard` removes it quietly). The folder is created when missing. ``permissions``: the new file's mode (default:
    the old file's, or 0666 - umask)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    target = Path(path)
    if permissions is None:
        try:
            permissions = target.stat().st_mode & 0o7777
        except OSError:
            permissions = 0o666 & ~_umask()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise environment_error(e, f"writing {target}") from e
    try:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), permissions)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, Discard):
            return
        if isinstance(e, OSError) and e.errno in _DISK_FAILED:
            raise environment_error(e, f"writing {target}") from e
        raise
    fsync_dir(target.parent)


def write_text(
    path: str | os.PathLike[str],
    text: str,
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
    permissions: int | None = None,
) -> None:
    """``path`` holds ``text`` afterwards, or (on any failure) what it held before."""
    with atomic_open(path, "w", encoding=encoding, newline=newline, permissions=permissions) as f:
        f.write(text)


def write_bytes(path: str | os.PathLike[str], data: bytes, *, permissions: int | None = None) -> None:
    """``path`` holds ``data`` afterwards, or (on any failure) what it held before."""
    with atomic_open(path, "wb", permissions=permissions) as f:
        f.write(data)
