"""ToolEnv protocol behaviour, table-driven: well-formed calls and every error observation, the consecutive-error
stop, the turn limit, the image registry, the cache and the leakage guard."""

from __future__ import annotations

import io
import json
import time
from typing import Any, ClassVar

import pytest
from PIL import Image, ImageDraw

from toolenv import (
    BackendError,
    Document,
    EnvConfig,
    EpisodeItem,
    EpisodeOverError,
    ErrorKind,
    ImageLimits,
    MemoryToolCache,
    SearchHit,
    TextIndex,
    ToolEnv,
    ToolRegistry,
    default_registry,
    error_kind_of,
)
from toolenv.tools.base import Tool, ToolArgs, ToolContext, ToolOutput

QUESTION = "In which year did the singer shown in the picture first record the song named after his home state?"
DOCS = [
    Document("Ray Charles", "https://w/Ray_Charles", "Ray Charles was born in Albany, Georgia. He recorded Georgia "
             "on My Mind in 1960."),
    Document("Trivia dump", "https://w/Trivia", "Quiz: in which year did the singer shown in the picture first "
             "record the song named after his home state? Answer below."),
]


def png(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    img = Image.new("RGB", size, colour)
    ImageDraw.Draw(img).rectangle((8, 8, 30, 30), fill=(10, 10, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def call(name: str, **arguments: Any) -> str:
    return f"<think>next step</think>\n<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


class SlowSearch:
    """A search backend that answers after ``delay`` seconds (the network edge, slowed)."""

    fingerprint = "slow"

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def search(self, query: str, top_k: int = 5, hl: str = "en") -> list[SearchHit]:
        time.sleep(self.delay)
        return []


class FailingSearch:
    fingerprint = "failing"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def search(self, query: str, top_k: int = 5, hl: str = "en") -> list[SearchHit]:
        raise self.error


class ManyArgs(ToolArgs):
    n: int


class ManyTiles(Tool[ManyArgs]):
    """Returns ``n`` images: exercises the per-call image cap."""

    name = "tiles"
    args_model = ManyArgs
    description = "tiles"
    image_fields: ClassVar[tuple[str, ...]] = ()

    def run(self, args: ManyArgs, ctx: ToolContext) -> ToolOutput:
        return ToolOutput(f"{args.n} tiles", tuple(Image.new("RGB", (4, 4), (i, i, i)) for i in range(args.n)))


@pytest.fixture(scope="module")
def index() -> TextIndex:
    return TextIndex.from_documents(DOCS)


def make_env(index: TextIndex, **config: Any) -> ToolEnv:
    cfg = EnvConfig(**config)
    tools = list(default_registry(cfg, text_search=index))
    return ToolEnv(ToolRegistry([*tools, ManyTiles()]), cfg, cache=MemoryToolCache())


def started(env: ToolEnv, *images: bytes) -> ToolEnv:
    env.reset(EpisodeItem(QUESTION, images or (png(),), item_id="item-1"))
    return env


def test_well_formed_call_registers_a_new_image(index: TextIndex) -> None:
    env = make_env(index)
    first = env.reset(EpisodeItem(QUESTION, (png(), png(colour=(0, 90, 0)))))
    assert first.kind == "task"
    assert first.text == QUESTION
    assert [im.id for im in first.images] == ["img_1", "img_2"]
    obs = env.step(call("crop", image="img_2", x=4, y=4, width=20, height=10))
    assert obs.ok
    assert not obs.done
    assert obs.turn == 1
    assert obs.text.startswith("<tool_response>\nCropped img_2 at (x=4, y=4, width=20, height=10).")
    assert obs.text.endswith("New image: img_3 (20×10 px).\n</tool_response>")
    assert [(im.id, im.width, im.height) for im in obs.images] == [("img_3", 20, 10)]
    obs = env.step(call("sharpen", image="img_3"))
    assert [im.id for im in obs.images] == ["img_4"]
    assert [(t.output, t.tool, t.inputs) for t in env.state.lineage("img_4")] == [
        ("img_3", "crop", ("img_2",)), ("img_4", "sharpen", ("img_3",))]
    assert env.state.history[1].arguments == {"image": "img_3", "amount": 1.5}


@pytest.mark.parametrize(
    ("turn", "kind", "needle"),
    [
        ('<tool_call>{"name": "sharpen", "arguments": {"image": "img_1"}}</tool_call>', ErrorKind.PROTOCOL,
         "missing <think>"),
        (call("sharpen", image="img_1") + call("sharpen", image="img_1"), ErrorKind.PROTOCOL, "exactly one action"),
        ('<think>x</think><tool_call>{"name": "sharpen", "arguments": {"image": img_1}}</tool_call>',
         ErrorKind.MALFORMED_JSON, "[Json Parse Error]: Tool call is not a valid JSON."),
        (call("web_browse", url="x"), ErrorKind.UNKNOWN_TOOL, "unknown tool 'web_browse'. Available tools: ['crop',"),
        (call("crop", image="img_1", x=0, y=0, width=0, height=5), ErrorKind.BAD_ARGUMENTS,
         "crop: width: Input should be greater than 0"),
        (call("crop", image="img_1", x=0, y=0), ErrorKind.BAD_ARGUMENTS, "width: Field required"),
        (call("sharpen", image="img_1", radius=2), ErrorKind.BAD_ARGUMENTS, "radius: unexpected argument"),
        (call("crop", image="img_1", x=500, y=0, width=5, height=5), ErrorKind.BAD_ARGUMENTS, "outside the 64×48"),
        (call("sharpen", image="img_7"), ErrorKind.UNKNOWN_IMAGE,
         "Error: Image reference 'img_7' not found. Available: ['img_1']"),
        (call("text_search", q="x", top_k=99), ErrorKind.BAD_ARGUMENTS, "top_k: Input should be less than or equal"),
        ("<think>" + "word " * 5000 + "</think><response>x</response>", ErrorKind.PROTOCOL, "over the limit of 4096"),
    ],
    ids=["missing-think", "two-tool-calls", "broken-json", "unknown-tool", "bad-arguments", "missing-argument",
         "extra-argument", "box-outside-image", "unknown-image-id", "top-k-range", "turn-too-long"],
)
def test_bad_steps_are_error_observations(index: TextIndex, turn: str, kind: ErrorKind, needle: str) -> None:
    env = started(make_env(index))
    obs = env.step(turn)
    assert obs.error == kind
    assert error_kind_of(obs.content) == kind
    assert obs.content.startswith(f"[ERROR:{kind.value}]")
    assert needle in obs.content
    assert not obs.done                       # an isolated error does not end the episode
    assert env.state.consecutive_errors == 1
    assert env.state.images.keys() == {"img_1"}
    assert env.step(call("sharpen", image="img_1")).ok
    assert env.state.consecutive_errors == 0


def test_timeout_is_an_observation_and_the_episode_goes_on() -> None:
    cfg = EnvConfig(tool_timeouts_s={"text_search": 0.2})
    env = started(ToolEnv.build(cfg, text_search=SlowSearch(2.0)))
    t0 = time.perf_counter()
    obs = env.step(call("text_search", q="Ray Charles"))
    assert time.perf_counter() - t0 < 1.5
    assert obs.error == ErrorKind.TIMEOUT
    assert obs.content == "[ERROR:timeout] Tool execution error: text_search timed out after 0.2 s"
    assert env.step(call("sharpen", image="img_1")).ok


@pytest.mark.parametrize(
    ("error", "needle"),
    [(BackendError("search API returned HTTP 503: busy"), "[ERROR:backend] Tool execution error: search API returned"),
     (RuntimeError("segfault-ish"), "[ERROR:backend] Tool execution error: text_search failed: RuntimeError")],
)
def test_backend_failures_are_observations(error: Exception, needle: str) -> None:
    env = started(ToolEnv.build(EnvConfig(), text_search=FailingSearch(error)))
    obs = env.step(call("text_search", q="x"))
    assert obs.error == ErrorKind.BACKEND
    assert obs.content.startswith(needle)


def test_three_consecutive_bad_steps_end_the_episode(index: TextIndex) -> None:
    env = started(make_env(index))
    bad = call("sharpen", image="img_9")
    assert not env.step(bad).done
    assert not env.step(bad).done
    assert env.step(call("sharpen", image="img_1")).ok          # the counter resets
    assert not env.step(bad).done
    assert not env.step("no tags at all").done
    last = env.step(bad)
    assert last.done
    assert last.terminal_reason == "consecutive_errors"
    assert env.state.step_errors == [True, True, False, True, True, True]
    with pytest.raises(EpisodeOverError):
        env.step(call("sharpen", image="img_1"))


def test_turn_limit(index: TextIndex) -> None:
    env = started(make_env(index))
    for turn in range(1, 50):
        obs = env.step(call("text_search", q=f"Albany {turn}"))
        assert not obs.done
    last = env.step(call("text_search", q="Albany"))
    assert (last.turn, last.done, last.terminal_reason) == (50, True, "max_turns")
    assert last.ok
    short = started(make_env(index, max_turns=2))
    short.step("garbage")
    assert short.step("garbage").terminal_reason == "max_turns"


def test_final_answer_ends_the_episode(index: TextIndex) -> None:
    env = started(make_env(index))
    obs = env.step("<think>I know it.</think><response>\\boxed{1960}</response>")
    assert (obs.kind, obs.done, obs.terminal_reason, obs.answer, obs.content) == (
        "answer", True, "answered", "\\boxed{1960}", "")
    assert env.state.answer == "\\boxed{1960}"


def test_leakage_guard_drops_results_quoting_the_question(index: TextIndex) -> None:
    guarded = started(make_env(index)).step(call("text_search", q="singer song home state year"))
    assert guarded.dropped_by_guard == 1
    assert "Trivia" not in guarded.content
    assert "(Leakage guard: 1 result was dropped because they quote the question.)" in guarded.content
    open_env = started(make_env(index, leakage_guard=False)).step(call("text_search", q="singer song home state year"))
    assert open_env.dropped_by_guard == 0
    assert "Title: Trivia dump" in open_env.content


def test_cache_serves_repeated_calls_across_episodes(index: TextIndex) -> None:
    env = make_env(index, cache_tools=("text_search", "crop"))
    cache = env.cache
    assert isinstance(cache, MemoryToolCache)
    first = started(env).step(call("text_search", q="Albany Georgia"))
    again = started(env).step(call("text_search", q="Albany Georgia"))
    assert (first.cached, again.cached) == (False, True)
    assert first.content == again.content
    crop_a = started(env).step(call("crop", image="img_1", x=1, y=1, width=9, height=9))
    crop_b = started(env).step(call("crop", image="img_1", x=1, y=1, width=9, height=9))
    assert crop_b.cached
    assert crop_a.images[0].sha256 == crop_b.images[0].sha256
    assert started(env).step(call("crop", image="img_1", x=1, y=1, width=9, height=9)).cached
    other_image = started(env, png(colour=(1, 2, 3))).step(call("crop", image="img_1", x=1, y=1, width=9, height=9))
    assert not other_image.cached                    # keyed by image content, not by the img_N id
    assert started(env).step(call("sharpen", image="img_1")).cached is False
    assert len(cache.entries) == 3


def test_images_per_call_are_capped(index: TextIndex) -> None:
    env = started(make_env(index))
    obs = env.step(call("tiles", n=6))
    assert [im.id for im in obs.images] == ["img_2", "img_3", "img_4", "img_5"]
    assert "2 more images were produced but only 4 are attached" in obs.content


def test_invalid_item_and_misuse() -> None:
    env = ToolEnv.build()
    with pytest.raises(EpisodeOverError):
        env.step("<think>x</think><response>y</response>")
    obs = env.reset(EpisodeItem(QUESTION, (b"GIF89a-but-not-really",)))
    assert (obs.done, obs.terminal_reason, obs.error) == (True, "invalid_item", ErrorKind.BAD_IMAGE)
    assert obs.content.startswith("[ERROR:bad_image] Error executing tool: invalid image: img_1:")
    small = ToolEnv.build(EnvConfig(image_limits=ImageLimits(max_pixels=1000)))
    too_big = small.reset(EpisodeItem(QUESTION, (png(),)))
    assert too_big.terminal_reason == "invalid_item"
    assert "64×48 exceeds the limit of 1000 pixels" in too_big.content
    with pytest.raises(EpisodeOverError):
        env.step("<think>x</think><response>y</response>")


def test_episodes_are_deterministic(index: TextIndex) -> None:
    script = [call("crop", image="img_1", x=2, y=3, width=30, height=20), call("super_resolution", image="img_2"),
              call("perspective_correct", image="img_3"), call("text_search", q="Georgia on My Mind"), "bad turn",
              "<think>ok</think><response>1960</response>"]

    def run() -> list[tuple[str, tuple[str, ...]]]:
        env = started(make_env(index))
        return [(o.content, tuple(im.sha256 for im in o.images)) for o in (env.step(t) for t in script)]

    assert run() == run()
