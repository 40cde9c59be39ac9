"""Publish an export folder to the Hugging Face Hub (or any Hub-compatible endpoint) in one atomic commit.

The export folder (``schemas.shards``) is checked first: ``manifest.json`` parses, every shard it lists exists
and matches its sha256. Then, against the Hub:

1. the dataset repo is created if missing;
2. if the remote ``manifest.json`` has the same ``export_hash`` and every local file is present remotely, the
   export is already published: nothing is uploaded and **no commit** is made;
3. otherwise every file goes up in **one** ``create_commit``: LFS objects are uploaded first (they are not part
   of any revision until the commit names them), then a single commit adds all files and deletes remote files
   under ``sft/``, ``rl/`` and ``plots/`` that the export no longer has (so ``train-*.parquet`` globs never mix
   two exports). The commit is pinned to the head it was planned against (``parent_commit``).

A failure before the commit leaves the repo as it was, so a retry starts over cleanly; transient failures
(5xx, 429, timeouts, dropped or refused connections) are retried a bounded number of times. Errors become
one-line ``PublishError``s; the token is only ever handed to ``huggingface_hub`` (which sends it in the
``Authorization`` header and masks it in its debug logs) and is scrubbed from every message we raise.

Xet: ``huggingface_hub`` 2.4 uploads through Xet whenever ``hf_xet`` is installed, without asking the server.
Only huggingface.co (and its staging hub) serve Xet, so for any other endpoint the upload switches to the plain
LFS "basic" transfer (a PUT per object) by turning off ``huggingface_hub.constants.HF_HUB_DISABLE_XET`` for the
duration of the call (the same switch as ``HF_HUB_DISABLE_XET=1``); pass ``xet=True|False`` to force it.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from pydantic import SecretStr, ValidationError

from schemas.errors import PipelineError
from schemas.settings import Settings
from schemas.shards import ExportManifest
from tasks.export.redact import local_paths
from tasks.export.shards import file_sha256

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CARD = "README.md"
MANAGED_DIRS = ("sft", "rl", "plots")           # remote files here that the export lacks are deleted
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_XET_ENDPOINTS = (constants._HF_DEFAULT_ENDPOINT, constants._HF_DEFAULT_STAGING_ENDPOINT)
_xet_lock = threading.Lock()


class PublishError(PipelineError):
    """Publishing failed; the message is one line and never contains the token."""


class ExportFolderError(PublishError):
    """The export folder is missing, incomplete or does not match its manifest."""


@dataclass(frozen=True, slots=True)
class ExportFolder:
    root: Path
    manifest: ExportManifest
    files: tuple[str, ...]          # every file to publish, POSIX paths relative to ``root``, sorted


@dataclass(frozen=True, slots=True)
class PublishResult:
    repo_id: str
    status: Literal["committed", "unchanged"]
    commit: str                     # the new commit, or the head that already holds this export
    url: str
    export_hash: str
    files: tuple[str, ...]
    deleted: tuple[str, ...] = ()


class HubPublisher(Protocol):
    """Port: put an export folder on a Hub repo, or say it is already there."""

    def publish(self, export: ExportFolder) -> PublishResult: ...


def read_export(folder: Path) -> ExportFolder:
    """Validate an export folder against its manifest.

    Reads: ``manifest.json``, ``README.md`` and every shard the manifest lists (hashed).
    Raises: ``ExportFolderError`` naming the first problem.
    """
    if not folder.is_dir():
        raise ExportFolderError(f"no export folder at {folder}: run the export stage first")
    if not (folder / MANIFEST).is_file():
        raise ExportFolderError(f"{folder} has no {MANIFEST}: it is not a finished export")
    try:
        manifest = ExportManifest.model_validate_json((folder / MANIFEST).read_bytes())
    except ValidationError as e:
        raise ExportFolderError(f"{folder / MANIFEST} is not a valid export manifest "
                                f"({e.error_count()} errors, first: {e.errors()[0]['msg']})") from None
    if not (folder / CARD).is_file():
        raise ExportFolderError(f"{folder} has no {CARD} (the dataset card)")
    for name in (CARD, MANIFEST):
        found = local_paths((folder / name).read_text(encoding="utf-8"))
        if found:
            raise ExportFolderError(f"{folder / name} holds an absolute local path ({found[0]!r}): re-export it "
                                    "with this version (paths are redacted) before publishing")
    for shard in manifest.files:
        path = folder / shard.path
        if not path.is_file():
            raise ExportFolderError(f"{folder}: shard {shard.path} listed in {MANIFEST} is missing")
        if file_sha256(path) != shard.sha256:
            raise ExportFolderError(f"{folder}: shard {shard.path} does not match its sha256 in {MANIFEST}")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    return ExportFolder(folder, manifest, tuple(files))


def find_export(export_dir: Path, name: str | None) -> Path:
    """The export folder called ``name`` under ``export_dir``, or the newest finished one (by manifest mtime).

    Only locates (cheap, no hashing); ``read_export`` validates.
    """
    if name is not None:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ExportFolderError(f"bad export name {name!r}: give a folder name under {export_dir}")
        folder = export_dir / name
        if not folder.is_dir():
            raise ExportFolderError(f"no export folder at {folder}: run the export stage first")
        return folder
    done = [m.parent for m in export_dir.glob(f"*/{MANIFEST}")] if export_dir.is_dir() else []
    if not done:
        raise ExportFolderError(f"no export under {export_dir}: run the export stage first or pass --export")
    return max(done, key=lambda d: ((d / MANIFEST).stat().st_mtime_ns, d.name))


@contextmanager
def _xet(enabled: bool) -> Iterator[None]:
    """Turn huggingface_hub's Xet upload path on or off for the duration of one publish."""
    with _xet_lock:
        before = constants.HF_HUB_DISABLE_XET
        constants.HF_HUB_DISABLE_XET = before or not enabled
        try:
            yield
        finally:
            constants.HF_HUB_DISABLE_XET = before


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _status(err: BaseException) -> int | None:
    for e in _chain(err):
        if isinstance(e, HfHubHTTPError) and e.response is not None:
            return e.response.status_code
    return None


def is_transient(err: BaseException) -> bool:
    """Worth retrying: 408/429/5xx from the Hub, timeouts, refused or dropped connections."""
    if any(isinstance(e, OfflineModeIsEnabled) for e in _chain(err)):
        return False
    status = _status(err)
    if status is not None:
        return status in TRANSIENT_STATUS
    return any(isinstance(e, httpx2.TransportError | ConnectionError | TimeoutError) for e in _chain(err))


class HfHubPublisher:
    """``HubPublisher`` over ``huggingface_hub``: one atomic commit per publish, none when unchanged."""

    def __init__(self, repo_id: str, token: SecretStr, *, endpoint: str | None = None, private: bool = False,
                 attempts: int = 3, backoff_s: float = 1.0, xet: bool | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.repo_id = repo_id
        self.private = private
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.xet = self.endpoint in _XET_ENDPOINTS if xet is None else xet
        self._token = token
        self._sleep = sleep
        self._api = HfApi(endpoint=self.endpoint, token=token.get_secret_value(), library_name="searchvl")

    @property
    def url(self) -> str:
        return f"{self.endpoint}/datasets/{self.repo_id}"

    def publish(self, export: ExportFolder) -> PublishResult:
        """Publish ``export`` (see the module docstring), retrying transient failures.

        Side effects: may create the dataset repo; at most one commit on ``main``.
        Raises: ``PublishError`` (one line, token-free).
        """
        for attempt in range(1, self.attempts + 1):
            try:
                with _xet(self.xet):
                    return self._publish_once(export)
            except Exception as err:
                if attempt == self.attempts or not is_transient(err):
                    raise PublishError(self._describe(err, attempt)) from None
                wait = self.backoff_s * 2 ** (attempt - 1)
                log.warning("publish %s: attempt %d/%d failed (%s); retrying in %.1f s", self.repo_id, attempt,
                            self.attempts, self._scrub(type(err).__name__), wait)
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _publish_once(self, export: ExportFolder) -> PublishResult:
        api, manifest = self._api, export.manifest
        api.create_repo(self.repo_id, repo_type="dataset", private=self.private, exist_ok=True)
        info = api.dataset_info(self.repo_id, revision="main")
        remote = {s.rfilename for s in info.siblings or []}
        if info.sha and set(export.files) <= remote and self._remote_hash(info.sha, remote) == manifest.export_hash:
            log.info("publish %s: export %s (%s) is already at %s; no commit", self.repo_id, manifest.name,
                     manifest.export_hash[:12], info.sha[:12])
            return self._result(export, "unchanged", info.sha)
        stale = tuple(sorted(f for f in remote - set(export.files) if f.split("/", 1)[0] in MANAGED_DIRS))
        ops: list[CommitOperationAdd | CommitOperationDelete] = [
            CommitOperationAdd(path_in_repo=f, path_or_fileobj=export.root / f) for f in export.files]
        ops += [CommitOperationDelete(path_in_repo=f) for f in stale]
        info_commit = api.create_commit(
            self.repo_id, ops, repo_type="dataset", parent_commit=info.sha,
            commit_message=f"Publish export {manifest.name} ({manifest.export_hash[:12]})",
            commit_description=f"run {manifest.run_id}; sft rows {manifest.sft_rows}; rl rows {manifest.rl_rows}")
        log.info("publish %s: committed %s (%d files, %d deleted)", self.repo_id, info_commit.oid[:12],
                 len(export.files), len(stale))
        # huggingface_hub drops adds whose content is already there; with nothing left it makes no commit
        return self._result(export, "unchanged" if info_commit.oid == info.sha else "committed", info_commit.oid,
                            stale)

    def _result(self, export: ExportFolder, status: Literal["committed", "unchanged"], commit: str,
                deleted: tuple[str, ...] = ()) -> PublishResult:
        return PublishResult(self.repo_id, status, commit, self.url, export.manifest.export_hash, export.files,
                             deleted)

    def _remote_hash(self, sha: str, remote: set[str]) -> str | None:
        if MANIFEST not in remote:
            return None
        with tempfile.TemporaryDirectory(prefix="searchvl-publish-") as tmp:
            path = self._api.hf_hub_download(self.repo_id, MANIFEST, repo_type="dataset", revision=sha, cache_dir=tmp)
            try:
                value = json.loads(Path(path).read_text(encoding="utf-8")).get("export_hash")
            except (ValueError, AttributeError):
                return None
        return value if isinstance(value, str) else None

    def _scrub(self, text: str) -> str:
        secret = self._token.get_secret_value()
        text = text.replace(secret, "***") if secret else text
        return " ".join(text.split())

    def _describe(self, err: BaseException, attempt: int) -> str:
        status, where = _status(err), f"{self.repo_id} at {self.endpoint}"
        tries = f" (after {attempt} attempts)" if attempt > 1 else ""
        if any(isinstance(e, OfflineModeIsEnabled) for e in _chain(err)):
            msg = "huggingface_hub is in offline mode (HF_HUB_OFFLINE is set): unset it to publish"
        elif status == 401:
            msg = (f"the Hub rejected the token for {where} (401 Unauthorized): set SEARCHVL_HF_TOKEN or HF_TOKEN "
                   "to a valid write token")
        elif status == 403:
            msg = f"the token may not write to {where} (403 Forbidden): use a token with write access"
        elif status == 404:
            msg = f"{where} was not found (404): check --repo-id and the endpoint"
        elif status in (409, 412):
            msg = f"{where} changed while publishing ({status}): run publish again"
        elif status is not None:
            server = next((e.server_message for e in _chain(err) if isinstance(e, HfHubHTTPError)), None)
            msg = f"the Hub answered {status} for {where}{tries}" + (f": {server}" if server else "")
        elif any(isinstance(e, httpx2.TransportError | ConnectionError) for e in _chain(err)):
            cause = next(e for e in _chain(err) if isinstance(e, httpx2.TransportError | ConnectionError))
            msg = f"cannot reach the Hub at {self.endpoint}{tries}: {type(cause).__name__}"
        else:
            msg = f"publishing to {where} failed: {type(err).__name__}: {err}"
        return self._scrub(msg)


def publisher_from_settings(settings: Settings, repo_id: str, *, private: bool = False) -> HfHubPublisher:
    """The real publisher, with the token and endpoint from the environment (never from arguments)."""
    if settings.hf_token is None or not settings.hf_token.get_secret_value():
        raise PublishError("publishing needs a Hub write token: set SEARCHVL_HF_TOKEN (or HF_TOKEN) in the environment")
    return HfHubPublisher(repo_id, settings.hf_token, endpoint=settings.hub_endpoint, private=private)
