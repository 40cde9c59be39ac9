"""A Hub-compatible HTTP server on 127.0.0.1: just what ``huggingface_hub`` and ``datasets`` call.

Real HTTP (a ``ThreadingHTTPServer`` on a free port), driven by the real clients, so the publish stage
is tested the way it talks to huggingface.co. It answers:

* ``POST /api/repos/create``; ``GET /api/{type}s/{repo}[/revision/{rev}]`` (repo info with siblings);
  ``GET /api/{type}s/{repo}/tree/{rev}[/{path}]``; ``POST /api/{type}s/{repo}/paths-info/{rev}``;
  ``GET /api/whoami-v2``; ``POST /api/validate-yaml``;
* ``HEAD|GET /{type}s/{repo}/resolve/{rev}/{path}`` (``hf_hub_download``, ``HfFileSystem``; ranges);
* ``POST /api/{type}s/{repo}/preupload/{rev}``: parquet/png/large files are ``lfs``, the rest ``regular``;
* ``POST /{type}s/{repo}.git/info/lfs/objects/batch`` (basic transfer only) and the ``PUT`` it points to;
* ``POST /api/{type}s/{repo}/commit/{rev}``: NDJSON with ``file`` (base64), ``lfsFile``, ``deletedFile``,
  ``deletedFolder``; ``parentCommit`` is honoured (412 when stale). A commit is atomic: it is applied
  whole or not at all, and an ``lfsFile`` whose object never arrived is rejected.

No xet: the server offers no xet token route, so the client must be told to use LFS (the publisher
disables xet for endpoints without it). State is in memory: ``repos[repo_id].commits`` (newest last,
each a full snapshot), ``log`` (every request), ``token_leaks`` (requests that carried a known token
anywhere but the ``Authorization`` header). Faults: ``fail_next_commits`` (that many commit requests
answer 500 before touching state) and ``drop_next_uploads`` (that many LFS PUTs get the connection
closed after the body is read, nothing stored).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.http import BackgroundHTTPServer

LFS_SUFFIXES = (".parquet", ".png", ".jpg", ".jpeg", ".arrow", ".bin")
LFS_MIN_SIZE = 10 * 1024 * 1024
DATE = "2025-01-01T00:00:00.000Z"


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class Blob:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else git_blob_oid(self.data)

    def entry(self, path: str) -> dict[str, Any]:
        e: dict[str, Any] = {"type": "file", "path": path, "size": len(self.data), "oid": git_blob_oid(self.data)}
        if self.lfs:
            e["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": 134}
        return e


@dataclass(frozen=True)
class Commit:
    oid: str
    summary: str
    files: dict[str, Blob]


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    commits: list[Commit] = field(default_factory=list)

    @property
    def head(self) -> Commit:
        return self.commits[-1]

    def at(self, rev: str) -> Commit | None:
        if rev in ("main", "refs/heads/main"):
            return self.head
        return next((c for c in self.commits if c.oid == rev or (len(rev) >= 7 and c.oid.startswith(rev))), None)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    authorized: bool


_RESOLVE = r"/(?:(?:datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)"
_REPO = r"(?P<type>model|dataset|space)s/(?P<repo>[^/]+/[^/]+?)"


class HubServer(BackgroundHTTPServer):
    def __init__(self, tokens: set[str] | None = None) -> None:
        self.tokens = set(tokens or {"hf_test_write_token"})
        self.repos: dict[str, Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.log: list[Request] = []
        self.token_leaks: list[str] = []
        self.fail_next_commits = 0
        self.drop_next_uploads = 0
        self.lock = threading.RLock()
        self._listen(self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def commits(self, repo_id: str) -> list[Commit]:
        repo = self.repos.get(repo_id)
        return list(repo.commits) if repo else []

    # ------------------------------------------------------------------ state changes

    def _new_commit(self, repo: Repo, summary: str, files: dict[str, Blob]) -> Commit:
        seed = f"{repo.repo_id}\n{len(repo.commits)}\n{summary}\n" + "\n".join(
            f"{p}:{b.etag}" for p, b in sorted(files.items()))
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), summary, files)
        repo.commits.append(commit)
        return commit

    def create_repo(self, repo_id: str, repo_type: str = "dataset", private: bool = False) -> Repo:
        repo = Repo(repo_id, repo_type, private)
        self._new_commit(repo, "initial commit", {".gitattributes": Blob(b"*.parquet filter=lfs\n", False)})
        self.repos[repo_id] = repo
        return repo

    # ------------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            # ---- plumbing
            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _token(self) -> str | None:
                auth = self.headers.get("Authorization", "")
                return auth[7:] if auth.startswith("Bearer ") else None

            def _authorized(self) -> bool:
                return self._token() in hub.tokens

            def _audit(self, body: bytes) -> None:
                others = [v for k, v in self.headers.items() if k.lower() != "authorization"]
                for tok in hub.tokens:
                    if tok in self.path or any(tok in v for v in others) or tok.encode() in body:
                        hub.token_leaks.append(f"{self.command} {self.path}")

            def _send(self, status: int, payload: Any = None, *, raw: bytes | None = None,
                      headers: dict[str, str] | None = None, head: bool = False) -> None:
                data = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
                with hub.lock:
                    hub.log.append(Request(self.command, self.path, status, self._authorized()))
                self.send_response(status)
                hdrs = {"Content-Type": "application/json" if raw is None else "application/octet-stream",
                        **(headers or {})}
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            def _error(self, status: int, message: str, code: str | None = None, head: bool = False) -> None:
                headers = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {})}
                self._send(status, {"error": message}, headers=headers, head=head)

            def _repo(self, repo_id: str, *, write: bool = False, head: bool = False) -> Repo | None:
                repo = hub.repos.get(repo_id)
                if write and not self._authorized():
                    self._error(401, "Invalid credentials in Authorization header", head=head)
                    return None
                if repo is None or (repo.private and not self._authorized()):
                    self._error(404 if self._token() is None or self._authorized() else 401,
                                "Repository not found", "RepoNotFound", head=head)
                    return None
                return repo

            def _commit(self, repo: Repo, rev: str, head: bool = False) -> Commit | None:
                commit = repo.at(unquote(rev))
                if commit is None:
                    self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound", head=head)
                return commit

            # ---- verbs
            def do_HEAD(self) -> None:
                self._audit(b"")
                self._get(head=True)

            def do_GET(self) -> None:
                self._audit(b"")
                self._get(head=False)

            def _get(self, head: bool) -> None:
                path = urlsplit(self.path).path
                if path == "/api/whoami-v2":
                    if not self._authorized():
                        return self._error(401, "Invalid credentials in Authorization header", head=head)
                    return self._send(200, {"type": "user", "name": "tester",
                                            "auth": {"accessToken": {"role": "write"}}}, head=head)
                if m := re.fullmatch(_RESOLVE, path):
                    return self._resolve(m, head)
                if m := re.fullmatch(rf"/api/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<sub>.*))?", path):
                    return self._tree(m, head)
                if m := re.fullmatch(rf"/api/{_REPO}(?:/revision/(?P<rev>.+))?", path):
                    return self._info(m, head)
                return self._error(404, f"no route {path}", head=head)

            def _info(self, m: re.Match[str], head: bool) -> None:
                if (repo := self._repo(m["repo"], head=head)) is None:
                    return
                if (commit := self._commit(repo, m["rev"] or "main", head)) is None:
                    return
                siblings = [{"rfilename": p, "size": len(b.data), "blobId": b.etag} for p, b in sorted(
                    commit.files.items())]
                self._send(200, {"_id": repo.repo_id, "id": repo.repo_id, "author": repo.repo_id.split("/")[0],
                                 "sha": commit.oid, "private": repo.private, "gated": False, "disabled": False,
                                 "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
                                 "lastModified": DATE, "createdAt": DATE}, head=head)

            def _tree(self, m: re.Match[str], head: bool) -> None:
                if (repo := self._repo(m["repo"], head=head)) is None:
                    return
                if (commit := self._commit(repo, m["rev"], head)) is None:
                    return
                sub = unquote((m["sub"] or "").strip("/"))
                recursive = parse_qs(urlsplit(self.path).query).get("recursive", ["false"])[0].lower() == "true"
                self._send(200, _listing(commit, sub, recursive, commit.oid), head=head)

            def _resolve(self, m: re.Match[str], head: bool) -> None:
                if (repo := self._repo(m["repo"], head=head)) is None:
                    return
                if (commit := self._commit(repo, m["rev"], head)) is None:
                    return
                blob = commit.files.get(unquote(m["file"]))
                if blob is None:
                    return self._error(404, "Entry not found", "EntryNotFound", head=head)
                data, status = blob.data, 200
                headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{blob.etag}"', "Accept-Ranges": "bytes"}
                if blob.lfs:
                    headers |= {"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(len(blob.data))}
                if rng := re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "")):
                    start, end = int(rng[1]), int(rng[2]) if rng[2] else len(data) - 1
                    headers["Content-Range"] = f"bytes {start}-{min(end, len(data) - 1)}/{len(data)}"
                    data, status = data[start:end + 1], 206
                self._send(status, raw=data, headers=headers, head=head)

            def do_PUT(self) -> None:
                body = self._body()
                self._audit(body)
                m = re.fullmatch(r"/lfs-upload/(?P<oid>[0-9a-f]{64})", urlsplit(self.path).path)
                if m is None:
                    return self._error(404, "no route")
                with hub.lock:
                    drop = hub.drop_next_uploads > 0
                    hub.drop_next_uploads -= int(drop)
                if drop:
                    with hub.lock:
                        hub.log.append(Request("PUT", self.path, 0, False))
                    self.close_connection = True
                    self.connection.shutdown(2)  # mid-upload failure: no response, nothing stored
                    return None
                if hashlib.sha256(body).hexdigest() != m["oid"]:
                    return self._error(400, "sha256 mismatch")
                with hub.lock:
                    hub.lfs_objects[m["oid"]] = body
                return self._send(200, {})

            def do_POST(self) -> None:
                body = self._body()
                self._audit(body)
                path = urlsplit(self.path).path
                if path == "/api/repos/create":
                    return self._create(json.loads(body))
                if path == "/api/validate-yaml":
                    return self._send(200, {"errors": [], "warnings": []})
                if m := re.fullmatch(rf"/{_REPO}\.git/info/lfs/objects/batch", path):
                    return self._lfs_batch(m, json.loads(body))
                if m := re.fullmatch(rf"/api/{_REPO}/preupload/(?P<rev>[^/]+)", path):
                    return self._preupload(m, json.loads(body))
                if m := re.fullmatch(rf"/api/{_REPO}/paths-info/(?P<rev>[^/]+)", path):
                    return self._paths_info(m, body)
                if m := re.fullmatch(rf"/api/{_REPO}/commit/(?P<rev>[^/]+)", path):
                    return self._commit_post(m, body)
                return self._error(404, f"no route {path}")

            def _create(self, payload: dict[str, Any]) -> None:
                if not self._authorized():
                    return self._error(401, "Invalid credentials in Authorization header")
                repo_id = f"{payload.get('organization') or 'tester'}/{payload['name']}"
                repo_type = payload.get("type") or "model"
                prefix = "" if repo_type == "model" else f"{repo_type}s/"
                url = f"{hub.url}/{prefix}{repo_id}"
                with hub.lock:
                    if repo_id in hub.repos:      # the Hub's 409 still names the repo's url
                        return self._send(409, {"error": "You already created this dataset repo", "url": url},
                                          headers={"X-Error-Message": "You already created this dataset repo"})
                    hub.create_repo(repo_id, repo_type, payload.get("visibility") == "private"
                                    or bool(payload.get("private")))
                return self._send(200, {"url": url, "name": repo_id})

            def _preupload(self, m: re.Match[str], payload: dict[str, Any]) -> None:
                if (repo := self._repo(m["repo"], write=True)) is None:
                    return
                if (commit := self._commit(repo, m["rev"])) is None:
                    return
                files = []
                for f in payload["files"]:
                    lfs = f["path"].endswith(LFS_SUFFIXES) or int(f["size"]) >= LFS_MIN_SIZE
                    remote = commit.files.get(f["path"])
                    files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                                  "oid": remote.etag if remote is not None and remote.lfs == lfs else None})
                return self._send(200, {"files": files, "commitOid": commit.oid})

            def _lfs_batch(self, m: re.Match[str], payload: dict[str, Any]) -> None:
                if self._repo(m["repo"], write=True) is None:
                    return
                objects = []
                for o in payload["objects"]:
                    entry: dict[str, Any] = {"oid": o["oid"], "size": o["size"]}
                    if o["oid"] not in hub.lfs_objects:
                        entry |= {"authenticated": True,
                                  "actions": {"upload": {"href": f"{hub.url}/lfs-upload/{o['oid']}"}}}
                    objects.append(entry)
                return self._send(200, {"transfer": "basic", "objects": objects})

            def _paths_info(self, m: re.Match[str], body: bytes) -> None:
                if (repo := self._repo(m["repo"])) is None:
                    return
                if (commit := self._commit(repo, m["rev"])) is None:
                    return
                ctype = self.headers.get("Content-Type", "")
                paths = json.loads(body).get("paths", []) if "json" in ctype else parse_qs(body.decode()).get(
                    "paths", [])
                out = []
                for p in (p.strip("/") for p in paths):
                    if p in commit.files:
                        out.append(commit.files[p].entry(p))
                    elif any(f.startswith(p + "/") for f in commit.files):
                        out.append({"type": "directory", "path": p, "oid": _tree_oid(commit, p)})
                return self._send(200, out)

            def _commit_post(self, m: re.Match[str], body: bytes) -> None:
                if (repo := self._repo(m["repo"], write=True)) is None:
                    return
                with hub.lock:
                    fail = hub.fail_next_commits > 0
                    hub.fail_next_commits -= int(fail)
                if fail:
                    return self._error(500, "scripted commit failure")
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                header = next((x["value"] for x in lines if x["key"] == "header"), {})
                with hub.lock:
                    parent = header.get("parentCommit")
                    if parent and not repo.head.oid.startswith(parent):
                        return self._error(412, "A commit has happened since. Please refresh and try again.")
                    files = dict(repo.head.files)
                    for op in (x for x in lines if x["key"] != "header"):
                        v = op["value"]
                        if op["key"] == "file":
                            files[v["path"]] = Blob(base64.b64decode(v["content"]), False)
                        elif op["key"] == "lfsFile":
                            if v["oid"] not in hub.lfs_objects:
                                return self._error(422, f"LFS object {v['oid']} was not uploaded")
                            files[v["path"]] = Blob(hub.lfs_objects[v["oid"]], True)
                        elif op["key"] == "deletedFile":
                            files.pop(v["path"], None)
                        elif op["key"] == "deletedFolder":
                            files = {p: b for p, b in files.items() if not p.startswith(v["path"].rstrip("/") + "/")}
                        else:
                            return self._error(400, f"unsupported operation {op['key']}")
                    commit = hub._new_commit(repo, header.get("summary", ""), files)
                prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
                return self._send(200, {"success": True, "commitOid": commit.oid,
                                        "commitUrl": f"{hub.url}/{prefix}{repo.repo_id}/commit/{commit.oid}"})

        return Handler


def _tree_oid(commit: Commit, folder: str) -> str:
    inner = sorted(p for p in commit.files if p.startswith(folder + "/"))
    return hashlib.sha1(("\n".join(inner) + commit.oid).encode()).hexdigest()


def _listing(commit: Commit, sub: str, recursive: bool, oid: str) -> list[dict[str, Any]]:
    prefix = f"{sub}/" if sub else ""
    out: dict[str, dict[str, Any]] = {}
    for path, blob in sorted(commit.files.items()):
        if not path.startswith(prefix):
            continue
        parts = path[len(prefix):].split("/")
        for depth in range(1, len(parts)):
            folder = prefix + "/".join(parts[:depth])
            if recursive or depth == 1:
                out.setdefault(folder, {"type": "directory", "path": folder, "oid": _tree_oid(commit, folder)})
            if not recursive:
                break
        if recursive or len(parts) == 1:
            out[path] = blob.entry(path)
    return list(out.values())
