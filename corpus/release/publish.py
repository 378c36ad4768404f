"""Publish a built release to the Hugging Face Hub. The only module importing ``huggingface_hub``.

``publish`` checks before it writes anything (``preflight``): a token is there, the repo id is
valid, the endpoint answers and accepts the token, the tag is free. Each failure is a coded
error with the fix (``HubTokenMissing``, ``HubUnreachable``, ``HubTokenRejected``: exit 3;
``HubTagExists``: exit 1), never a traceback of the HTTP client. Then it creates the repo if
missing, uploads the folder in one commit and tags that commit ``vX.Y.Z``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.core.errors import (
    HubTagExists,
    HubTokenMissing,
    HubTokenRejected,
    HubUnreachable,
    ReleaseError,
    UsageError,
)
from corpus.release.build import RELEASE_MANIFEST, REPO_RE

DEFAULT_ENDPOINT = "https://huggingface.co"
TOKEN_HINT = (
    "Set HF_TOKEN to a token with write access (https://huggingface.co/settings/tokens), or log in once "
    "with `hf auth login`; a dry run (dry_run) shows the plan without one."
)

# ---------------------------------------------------------------- publish


@dataclass
class PublishPlan:
    folder: str
    repo: str
    tag: str
    private: bool
    files: list[dict[str, Any]]  # {"path", "size"}
    dry_run: bool
    commit: str | None = None
    created_repo: bool | None = None
    endpoint: str | None = None
    token_present: bool | None = None  # dry run: whether a token was found (never the token)
    checks: list[str] = field(default_factory=list)  # preflight checks passed, in order

    @property
    def total_size(self) -> int:
        return sum(f["size"] for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "total_size": self.total_size}


def _release_version(folder: Path) -> str:
    try:
        return str(json.loads((folder / RELEASE_MANIFEST).read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        raise ReleaseError(
            f"{folder} is not a built release (no readable {RELEASE_MANIFEST})",
            hint="Build it first (corpus release build).",
        ) from None


def check_repo_id(repo: str) -> None:
    """``repo`` must be ``ORG/NAME`` as the Hub accepts it (UsageError otherwise)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # noqa: PLC0415

    if not isinstance(repo, str) or not REPO_RE.match(repo):
        raise UsageError(
            f"repo {repo!r} is not ORG/NAME", hint="Pass the Hub dataset repo as ORG/NAME, e.g. acme/news."
        )
    try:
        validate_repo_id(repo)
    except HFValidationError as e:
        raise UsageError(f"repo {repo!r} is not a valid Hub repo id: {str(e).splitlines()[0]}") from None


def find_token() -> str | None:
    """``HF_TOKEN``, else the token saved by ``hf auth login`` (never printed)."""
    from huggingface_hub import get_token  # noqa: PLC0415

    return os.environ.get("HF_TOKEN") or get_token() or None


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def publish_plan(folder: str | Path, repo: str, private: bool = False, dry_run: bool = False) -> PublishPlan:
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder", hint="Pass the folder written by `corpus release build`.")
    check_repo_id(repo)
    version = _release_version(root)
    files = [
        {"path": p.relative_to(root).as_posix(), "size": p.stat().st_size}
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]
    return PublishPlan(str(root), repo, f"v{version}", private, files, dry_run, endpoint=hub_endpoint())


def _is_transport_error(e: BaseException) -> bool:
    """A connection-level failure of the Hub client (httpx / requests / offline mode), whatever
    HTTP library this huggingface_hub version uses."""
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"TransportError", "RequestError", "ConnectionError", "OfflineModeIsEnabled", "Timeout"}) or (
        isinstance(e, OSError) and not hasattr(e, "response")
    )


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return f"{e.__class__.__name__}: {s.splitlines()[0] if s else ''}".rstrip(": ")


def _call(what: str, endpoint: str, fn: Any, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
    """One Hub call; every failure becomes a coded error with the fix, never a raw traceback.
    ``missing_ok``: a repo that does not exist (yet) gives None."""
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError  # noqa: PLC0415

    try:
        return fn(*args, **kwargs)
    except RepositoryNotFoundError:
        if missing_ok:
            return None
        raise ReleaseError(f"repo not found on the Hub at {endpoint} ({what})", hint="Check repo.") from None
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status in (401, 403):
            raise HubTokenRejected(
                f"the Hub at {endpoint} rejected the token ({what}: HTTP {status})", hint=TOKEN_HINT
            ) from None
        if status is not None and status >= 500:
            raise HubUnreachable(
                f"the Hub at {endpoint} failed ({what}: HTTP {status})", hint="Try again later."
            ) from None
        raise ReleaseError(
            f"the Hub refused {what}: {_first_line(e)}",
            hint="Check the repo name and that the token may write to it.",
        ) from None
    except Exception as e:
        if _is_transport_error(e):
            raise HubUnreachable(
                f"cannot reach the Hub at {endpoint} ({what}: {_first_line(e)})",
                hint="Check the network, a proxy or HF_ENDPOINT; HF_HUB_OFFLINE must be unset to publish. "
                "A dry run (dry_run) works offline.",
            ) from None
        raise


def preflight(plan: PublishPlan, api: Any, token: str | None) -> None:
    """Everything that can be known before writing: token, endpoint + token accepted, tag free.

    Raises the first failing check's coded error; appends each passed check to ``plan.checks``.
    """
    endpoint = plan.endpoint or hub_endpoint()
    if not token:
        raise HubTokenMissing("no Hugging Face token: HF_TOKEN is not set and there is no saved login", hint=TOKEN_HINT)
    plan.checks.append("token present")
    plan.checks.append("repo id valid")  # checked by publish_plan
    _call("whoami", endpoint, api.whoami)
    plan.checks.append(f"endpoint {endpoint} reachable, token accepted")
    # a repo that does not exist yet will be created: every tag is free
    refs = _call("list tags", endpoint, api.list_repo_refs, plan.repo, repo_type="dataset", missing_ok=True)
    existing = {t.name: t.target_commit for t in refs.tags} if refs is not None else {}
    plan.created_repo = refs is None
    if plan.tag in existing:
        raise HubTagExists(
            f"tag {plan.tag} already exists on {plan.repo} (commit {existing[plan.tag]}); a published version is never moved",
            hint="Bump version and build again.",
        )
    plan.checks.append(f"tag {plan.tag} free")


def publish(
    folder: str | Path, repo: str, private: bool = False, dry_run: bool = False, api: Any = None
) -> PublishPlan:
    """Check, then upload a built release in one commit and tag it ``vX.Y.Z``; an existing tag
    is never moved.

    The token comes from ``HF_TOKEN`` (or a saved login), is never printed; ``api`` is for tests
    (a stand-in for ``HfApi``; it is still checked first).
    """
    plan = publish_plan(folder, repo, private, dry_run)
    token = find_token()
    if dry_run:
        plan.token_present = bool(token)
        return plan
    if api is None:
        from huggingface_hub import HfApi  # noqa: PLC0415  (imported only when really publishing)

        if not token:  # before building a client that would look for one itself
            raise HubTokenMissing(
                "no Hugging Face token: HF_TOKEN is not set and there is no saved login", hint=TOKEN_HINT
            )
        api = HfApi(endpoint=plan.endpoint, token=token)
    else:
        token = token or getattr(api, "token", None)
    preflight(plan, api, token)
    endpoint = plan.endpoint or hub_endpoint()
    _call("create repo", endpoint, api.create_repo, repo, repo_type="dataset", private=private, exist_ok=True)
    info = _call(
        "upload",
        endpoint,
        api.upload_folder,
        repo_id=repo,
        folder_path=str(plan.folder),
        repo_type="dataset",
        commit_message=f"Release {plan.tag}",
    )
    commit = getattr(info, "oid", None) or str(info)
    _call(
        "create tag",
        endpoint,
        api.create_tag,
        repo,
        tag=plan.tag,
        revision=commit,
        repo_type="dataset",
        tag_message=f"Release {plan.tag}",
    )
    plan.commit = commit
    return plan
