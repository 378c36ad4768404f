"""Every error the toolkit raises on purpose, with a code that can be grepped and tested.

Messages say what went wrong, the likely cause and what to do next. Codes come from the one
table in :mod:`corpus.core.problems` (a class's code, or a more precise one given where the
error is raised); the CLI prints an error as that :class:`~corpus.core.problems.Problem` and
maps it to an exit code in one place (``corpus.cli.app``) through its class's ``exit_code``:
the ladder below.
"""

from __future__ import annotations

import errno

from corpus.core.problems import CODES, Problem

# The exit ladder: the one place exit codes are named. ``corpus.cli.app`` maps every error to
# its class's ``exit_code``; nothing else decides an exit code.
EXIT_OK = 0  # all good
EXIT_PROBLEMS = 1  # finished, but some inputs or records had problems (reported)
EXIT_USAGE = 2  # the command was called wrongly
EXIT_ENVIRONMENT = 3  # server unreachable, binary missing, store unreadable, disk full


class CorpusError(Exception):
    """Base class. ``code`` is a short stable identifier such as ``E101`` from the one table: what
    went wrong and the fix are said there, once (a subclass without a docstring gets its words)."""

    code = "E000"
    exit_code = EXIT_PROBLEMS

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code not in CODES:
            raise TypeError(f"{cls.__name__}: code {cls.code!r} is not in the problem table")
        if cls.__doc__ is None:
            what = CODES[cls.code].what
            cls.__doc__ = f"{what[:1].upper()}{what[1:]} ({cls.code})."

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None):
        if code is not None:
            if code not in CODES:
                raise ValueError(f"unknown problem code {code!r}")
            self.code = code
        self.message = message
        self.hint = hint
        super().__init__(f"[{self.code}] {message}" + (f"\n  Hint: {hint}" if hint else ""))

    def problem(self) -> Problem:
        """This error as the one problem type (what the CLI prints, text or JSON)."""
        return Problem(self.code, self.message, hint=self.hint)


class UsageError(CorpusError):
    code = "E001"
    exit_code = EXIT_USAGE


class EnvironmentProblem(CorpusError):
    """The environment failed (server unreachable, binary missing, store unreadable, disk full):
    not the input's fault; fix the environment and run the command again."""

    code = "E900"
    exit_code = EXIT_ENVIRONMENT


class DiskFull(EnvironmentProblem):
    code = "E901"


class NotWritable(EnvironmentProblem):
    code = "E902"


class ProgramMissing(EnvironmentProblem):
    code = "E903"


def environment_error(e: OSError, what: str) -> EnvironmentProblem:
    """An ``OSError`` met while doing ``what`` (e.g. "writing data/x.json") as the environment
    problem it is: disk full, not writable, or another failure of the machine."""
    reason = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(f"{what}: {reason}", hint="free space on that disk (or write elsewhere), then run again")
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR):
        return NotWritable(f"{what}: {reason}")
    return EnvironmentProblem(f"{what}: {reason}")


def is_disk_full(e: BaseException) -> bool:
    """An OSError (also pyarrow's and deltalake's, which may carry only the message) that means
    the disk or the quota is full."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(e)
    return "No space left on device" in text or "Disk quota exceeded" in text


def disk_full(what: str, where: object, e: BaseException, also: str | None = None) -> DiskFull:
    """The one message for a full disk: what failed, where, and what to do."""
    more = f" or of {also}" if also else ""
    return DiskFull(
        f"{what}: no space left on the disk of {where}{more}",
        hint=f"free some space there (df -h {where}) and run the command again; what was there before is "
        "intact (writes go to temporary files that are removed on failure)",
    )


class on_disk_full:
    """Around a write: a full disk becomes ``DiskFull`` (exit 3) naming what and where, never a
    traceback; other errors pass unchanged."""

    def __init__(self, what: str, where: object, also: str | None = None):
        self.what, self.where, self.also = what, where, also

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: object) -> None:
        if e is not None and not isinstance(e, CorpusError) and isinstance(e, Exception) and is_disk_full(e):
            raise disk_full(self.what, self.where, e, self.also) from None


class StoreError(CorpusError):
    """The corpus store cannot be read or written (missing table, unknown version or tag)."""

    code = "E100"


class UnknownVersion(StoreError):
    code = "E101"


class StoreUnreadable(StoreError, EnvironmentProblem):
    code = "E904"


class InputError(CorpusError):
    """One input item could not be read; the import goes on with the others."""

    code = "E200"


class TaxonomyError(CorpusError):
    code = "E300"


class LabelStudioError(CorpusError):
    code = "E500"


class ReleaseError(CorpusError):
    code = "E600"


class LabelStudioUnavailable(LabelStudioError, EnvironmentProblem):
    """Label Studio did not answer or failed (connection error, HTTP 5xx): the call may be retried."""

    code = "E501"


class LabelStudioRejected(LabelStudioError):
    """Label Studio answered with a client error (HTTP 4xx): retrying the same request will not help."""

    code = "E502"

    def __init__(self, message: str, *, status: int = 400, hint: str | None = None):
        self.status = status
        super().__init__(message, hint=hint)


class HubUnavailable(ReleaseError, EnvironmentProblem):
    """The Hugging Face Hub cannot be used from here (exit 3): fix the environment, publish again."""

    code = "E610"


class HubTokenMissing(HubUnavailable):
    code = "E611"


class HubUnreachable(HubUnavailable):
    code = "E612"


class HubTokenRejected(HubUnavailable):
    code = "E613"


class HubTagExists(ReleaseError):
    """The release tag already exists on the Hub repo; a published version is never moved."""

    code = "E614"
