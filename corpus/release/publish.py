"""Publish a built release to the Hugging Face Hub. The only module importing ``huggingface_hub``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.core.errors import ReleaseError, UsageError
from corpus.release.build import RELEASE_MANIFEST, REPO_RE

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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _release_version(folder: Path) -> str:
    try:
        return str(json.loads((folder / RELEASE_MANIFEST).read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        raise ReleaseError(
            f"{folder} is not a built release (no readable {RELEASE_MANIFEST})",
            hint="Build it first: corpus release build --version X.Y.Z.",
        ) from None


def publish_plan(folder: str | Path, repo: str, private: bool = False, dry_run: bool = False) -> PublishPlan:
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder", hint="Pass the folder written by `corpus release build`.")
    if not REPO_RE.match(repo):
        raise UsageError(f"--repo {repo!r} is not ORG/NAME")
    version = _release_version(root)
    files = [
        {"path": p.relative_to(root).as_posix(), "size": p.stat().st_size}
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]
    return PublishPlan(str(root), repo, f"v{version}", private, files, dry_run)


def publish(
    folder: str | Path, repo: str, private: bool = False, dry_run: bool = False, api: Any = None
) -> PublishPlan:
    """Upload a built release in one commit and tag it ``vX.Y.Z``; an existing tag is never moved.

    The token comes from ``HF_TOKEN`` (through ``HfApi``), is never printed; ``api`` is for tests.
    """
    plan = publish_plan(folder, repo, private, dry_run)
    if dry_run:
        return plan
    if api is None:
        from huggingface_hub import HfApi  # noqa: PLC0415  (imported only when really publishing)

        api = HfApi(token=os.environ.get("HF_TOKEN") or None)
    from huggingface_hub.errors import HfHubHTTPError  # noqa: PLC0415

    try:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        refs = api.list_repo_refs(repo, repo_type="dataset")
        existing = {t.name: t.target_commit for t in refs.tags}
        if plan.tag in existing:
            raise ReleaseError(
                f"tag {plan.tag} already exists on {repo} (commit {existing[plan.tag]}); a published version is never moved",
                hint="Bump --version and build again.",
            )
        info = api.upload_folder(
            repo_id=repo,
            folder_path=str(plan.folder),
            repo_type="dataset",
            commit_message=f"Release {plan.tag}",
        )
        commit = getattr(info, "oid", None) or str(info)
        api.create_tag(repo, tag=plan.tag, revision=commit, repo_type="dataset", tag_message=f"Release {plan.tag}")
    except HfHubHTTPError as e:
        raise ReleaseError(
            f"the Hub refused the request: {e.__class__.__name__}: {str(e).splitlines()[0]}",
            hint="Check HF_TOKEN (write access to the repo) and the repo name.",
        ) from None
    plan.commit = commit
    return plan
