"""Remote search adapters against real HTTP servers on 127.0.0.1 (pytest-httpserver): payloads, page reading,
HTTP errors, malformed payloads, slow responses and unreachable hosts — and how the env reports them."""

from __future__ import annotations

import base64
import io
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from toolenv import (
    BackendError,
    BackendTimeout,
    EnvConfig,
    EpisodeItem,
    ErrorKind,
    JinaReader,
    LensImageSearch,
    SerperSearch,
    ToolEnv,
)

ORGANIC = {"organic": [
    {"title": "Ray Charles - Wikipedia", "link": "https://en.example.org/Ray_Charles", "snippet": "American singer."},
    {"title": "Georgia on My Mind", "link": "https://en.example.org/Georgia", "snippet": "1930 song."},
    {"title": "no link", "snippet": "skipped"},
]}


@pytest.fixture(scope="module")
def _running() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", threaded=True)   # threaded: a slow handler must not block the next test
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def server(_running: HTTPServer) -> Iterator[HTTPServer]:
    _running.clear()
    yield _running
    _running.clear()


def test_serper_request_and_snippets(server: HTTPServer) -> None:
    server.expect_request("/search", method="POST", headers={"X-API-KEY": "k-123"}, json={
        "q": "ray charles", "location": "United States", "hl": "en", "num": 2}).respond_with_json(ORGANIC)
    search = SerperSearch("k-123", base_url=server.url_for(""))
    hits = search.search("ray charles", top_k=2)
    assert [(h.title, h.url, h.text) for h in hits] == [
        ("Ray Charles - Wikipedia", "https://en.example.org/Ray_Charles", "American singer."),
        ("Georgia on My Mind", "https://en.example.org/Georgia", "1930 song.")]
    assert search.fingerprint.startswith("serper:http://127.0.0.1:")
    search.close()


def test_serper_reads_pages_and_falls_back_to_snippets(server: HTTPServer) -> None:
    server.expect_request("/search", method="POST").respond_with_json(ORGANIC)
    server.expect_request("/r/https://en.example.org/Ray_Charles", headers={"Authorization": "Bearer j-1"}) \
        .respond_with_data("# Ray Charles\n\nRay Charles was born in Albany, Georgia.")
    server.expect_request("/r/https://en.example.org/Georgia").respond_with_data("gone", status=404)
    reader = JinaReader(base_url=server.url_for("/r/"), api_key="j-1")
    hits = SerperSearch("k", base_url=server.url_for(""), reader=reader).search("ray", top_k=5)
    assert [h.text for h in hits] == ["# Ray Charles\n\nRay Charles was born in Albany, Georgia.", "1930 song."]


@pytest.mark.parametrize(
    ("respond", "error", "needle"),
    [
        (lambda r: r.respond_with_data("boom", status=500), BackendError, "search API returned HTTP 500: boom"),
        (lambda r: r.respond_with_data("slow down", status=429), BackendError, "rate-limited (HTTP 429)"),
        (lambda r: r.respond_with_data("<html>captcha</html>", content_type="text/html"), BackendError,
         "malformed payload (not JSON)"),
        (lambda r: r.respond_with_json(["a"]), BackendError, "malformed payload (not a JSON object)"),
        (lambda r: r.respond_with_json({"organic": "nope"}), BackendError, "'organic' is not a list"),
    ],
    ids=["http-500", "http-429", "html", "json-list", "organic-not-list"],
)
def test_serper_error_mapping(server: HTTPServer, respond: Any, error: type[Exception], needle: str) -> None:
    respond(server.expect_request("/search", method="POST"))
    with pytest.raises(error) as info:
        SerperSearch("secret-key", base_url=server.url_for("")).search("q")
    assert needle in str(info.value)
    assert "secret-key" not in str(info.value)


def slow(delay: float, body: dict[str, Any]) -> Any:
    def handler(request: Request) -> Response:
        time.sleep(delay)
        return Response(json.dumps(body), content_type="application/json")

    return handler


def test_slow_responses_time_out(server: HTTPServer) -> None:
    server.expect_request("/search", method="POST").respond_with_handler(slow(1.0, ORGANIC))
    t0 = time.perf_counter()
    with pytest.raises(BackendTimeout, match=r"search API timed out after 0.2 s"):
        SerperSearch("k", base_url=server.url_for(""), timeout_s=0.2).search("q")
    assert time.perf_counter() - t0 < 0.9
    server.clear()
    server.expect_request("/search", method="POST").respond_with_handler(slow(0.2, ORGANIC))
    assert len(SerperSearch("k", base_url=server.url_for(""), timeout_s=2.0).search("q")) == 2  # slow but in time


def test_unreachable_host() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BackendError, match=r"unreachable \(ConnectError\)"):
        SerperSearch("k", base_url=f"http://127.0.0.1:{port}", timeout_s=1.0).search("q")


def cover() -> Image.Image:
    img = Image.new("RGB", (40, 30), (10, 20, 30))
    img.putpixel((3, 4), (250, 0, 0))
    return img


def test_lens_sends_the_image_and_parses_matches(server: HTTPServer) -> None:
    seen: dict[str, Any] = {}

    def handler(request: Request) -> Response:
        seen.update(request.get_json())
        return Response(json.dumps({"visual_matches": [
            {"title": "The Genius Hits the Road", "link": "https://en.example.org/Genius", "source": "Wikipedia"},
            {"title": "no link"}]}), content_type="application/json")

    server.expect_request("/lens", method="POST", headers={"X-API-KEY": "l-1"}).respond_with_handler(handler)
    hits = LensImageSearch("l-1", endpoint=server.url_for("/lens")).search(cover(), top_k=3)
    assert [(h.title, h.url, h.caption) for h in hits] == [
        ("The Genius Hits the Road", "https://en.example.org/Genius", "Wikipedia")]
    sent = Image.open(io.BytesIO(base64.b64decode(seen["image"])))
    assert sent.size == (40, 30)
    assert sent.convert("RGB").getpixel((3, 4)) == (250, 0, 0)
    assert seen["num"] == 3


def test_lens_with_a_publisher_sends_a_url(server: HTTPServer) -> None:
    uploaded: list[bytes] = []

    def publish(data: bytes) -> str:
        uploaded.append(data)
        return "https://cdn.example.org/abc.png"

    server.expect_request("/lens", method="POST", json={"num": 5, "url": "https://cdn.example.org/abc.png"}) \
        .respond_with_json({"visual_matches": []})
    assert LensImageSearch("k", endpoint=server.url_for("/lens"), publisher=publish).search(cover()) == []
    assert uploaded[0].startswith(b"\x89PNG")
    server.clear()
    server.expect_request("/lens", method="POST").respond_with_json({"visual_matches": {"x": 1}})
    with pytest.raises(BackendError, match="'visual_matches' is not a list"):
        LensImageSearch("k", endpoint=server.url_for("/lens")).search(cover())


def png_bytes() -> bytes:
    buf = io.BytesIO()
    cover().save(buf, format="PNG")
    return buf.getvalue()


def turn(name: str, **arguments: Any) -> str:
    return f"<think>look it up</think><tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def test_env_reports_remote_failures_as_observations(server: HTTPServer) -> None:
    server.expect_request("/search", method="POST").respond_with_handler(slow(1.0, ORGANIC))
    server.expect_request("/lens", method="POST").respond_with_data("upstream down", status=502)
    env = ToolEnv.build(EnvConfig(), text_search=SerperSearch("k", base_url=server.url_for(""), timeout_s=0.2),
                        image_search=LensImageSearch("k", endpoint=server.url_for("/lens")))
    env.reset(EpisodeItem("Who recorded this?", (png_bytes(),)))
    timed_out = env.step(turn("text_search", q="ray charles"))
    assert timed_out.error == ErrorKind.TIMEOUT
    assert timed_out.content == "[ERROR:timeout] Tool execution error: search API timed out after 0.2 s"
    failed = env.step(turn("image_search", image="img_1"))
    assert failed.error == ErrorKind.BACKEND
    assert failed.content == ("[ERROR:backend] Tool execution error: image search API returned HTTP 502: "
                              "upstream down")
    assert not failed.done
    third = env.step(turn("text_search", q="ray charles"))
    assert (third.done, third.terminal_reason) == (True, "consecutive_errors")


def test_env_formats_remote_results(server: HTTPServer) -> None:
    server.expect_request("/search", method="POST").respond_with_json(ORGANIC)
    env = ToolEnv.build(EnvConfig(), text_search=SerperSearch("k", base_url=server.url_for("")))
    env.reset(EpisodeItem("Who recorded this?", (png_bytes(),)))
    obs = env.step(turn("text_search", q="ray charles", top_k=2))
    assert obs.content == ("[Passage 1]\nTitle: Ray Charles - Wikipedia\nURL: https://en.example.org/Ray_Charles\n"
                           "Summary:\nAmerican singer.\n\n[Passage 2]\nTitle: Georgia on My Mind\n"
                           "URL: https://en.example.org/Georgia\nSummary:\n1930 song.")
