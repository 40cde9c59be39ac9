"""The tool environment end to end with the real OCR engine (rapidocr) and the local search indexes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from toolenv import (
    Document,
    EnvConfig,
    EpisodeItem,
    ImageEntry,
    ImageIndex,
    MemoryToolCache,
    RapidOcrEngine,
    TextIndex,
    ToolEnv,
)
from toolenv.images import sha256_hex
from toolenv.tools.ocr import format_layout, group_lines

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(FONT), size) if FONT.exists() else ImageFont.load_default(size=size)


def render(lines: list[str], size: int = 32, pad: int = 24, canvas: tuple[int, int] | None = None,
           at: tuple[int, int] = (0, 0)) -> Image.Image:
    f = font(size)
    width = max(int(f.getlength(line)) for line in lines) + 2 * pad
    height = len(lines) * int(size * 1.5) + 2 * pad
    img = Image.new("RGB", canvas or (width, height), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((at[0] + pad, at[1] + pad + i * int(size * 1.5)), line, fill="black", font=f)
    return img


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def call(name: str, **arguments: Any) -> str:
    return f"<think>plan</think><tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


@pytest.fixture(scope="module")
def ocr() -> RapidOcrEngine:
    return RapidOcrEngine()


@pytest.mark.parametrize("text", ["The quick brown fox jumps 1959", "Ray Charles Robinson, born September 23, 1930",
                                  "Genius Loves Company"])
def test_ocr_reads_a_rendered_line_exactly(ocr: RapidOcrEngine, text: str) -> None:
    lines = group_lines(ocr.recognize(render([text])))
    assert [line.text for line in lines] == [text]


def test_layout_parsing_format_on_two_blocks(ocr: RapidOcrEngine) -> None:
    img = Image.new("RGB", (700, 360), "white")
    img.paste(render(["Hit the Road Jack", "Percy Mayfield 1961"], 30), (0, 0))
    img.paste(render(["Side A"], 30), (0, 250))
    text = format_layout(group_lines(ocr.recognize(img)))
    assert text.startswith("Layout Parsing SUCCESS: 2 text blocks detected.\n\n[Text Block 1] (label: text, bbox: [")
    assert "[Text Block 2]" in text
    assert text.endswith("ALL RECOGNIZED TEXT:\nHit the Road Jack\nPercy Mayfield 1961\nSide A")
    assert format_layout([]).endswith("ALL RECOGNIZED TEXT:\n(no text found)")


def test_episode_crop_upscale_read_search_answer(ocr: RapidOcrEngine) -> None:
    """A photo-like input with a small label: crop it, super-resolve it, read it, search it, answer."""
    scene = Image.new("RGB", (640, 480), (90, 120, 90))
    label = render(["Georgia on My Mind"], size=11, pad=6)
    scene.paste(label, (380, 300))
    docs = [Document("Georgia on My Mind", "https://w/Georgia_on_My_Mind",
                     "Georgia on My Mind is a 1930 song. Ray Charles recorded it in 1960 for The Genius Hits the "
                     "Road."),
            Document("Albany", "https://w/Albany", "Albany is a city in Georgia.")]
    cover = render(["COVER"], size=40)
    covers = [ImageEntry(sha256_hex(png(cover)), png(cover), "The Genius Hits the Road", "album cover",
                         "https://w/The_Genius_Hits_the_Road")]
    cache = MemoryToolCache()
    env = ToolEnv.build(EnvConfig(), text_search=TextIndex.from_documents(docs), image_search=ImageIndex.build(covers),
                        ocr=ocr, cache=cache)
    question = "Which year did the singer who recorded the song on this label record it?"
    env.reset(EpisodeItem(question, (png(scene),)))
    crop = env.step(call("crop", image="img_1", x=370, y=290, width=label.width + 20, height=label.height + 20))
    assert crop.images[0].id == "img_2"
    upscale = env.step(call("super_resolution", image="img_2"))
    assert "Lanczos ×4 + unsharp mask (fallback: no EDSR weights configured)" in upscale.content
    read = env.step(call("layout_parsing", image="img_3"))
    assert read.ok, read.content
    assert "ALL RECOGNIZED TEXT:\nGeorgia on My Mind" in read.content
    found = env.step(call("text_search", q="Georgia on My Mind recorded"))
    assert found.content.startswith("[Passage 1]\nTitle: Georgia on My Mind\nURL: https://w/Georgia_on_My_Mind\n"
                                    "Summary:\n")
    match = env.step(call("image_search", url="img_1"))        # the released argument name still works
    assert match.content.startswith("Tool execution result:\n")
    payload = json.loads(match.content.split("\n", 1)[1])
    assert payload["visual_matches"][0]["title"] == "The Genius Hits the Road"
    done = env.step("<think>It says 1960.</think><response>\\boxed{1960}</response>")
    assert (done.done, done.answer, env.state.turn) == (True, "\\boxed{1960}", 6)
    assert [t.tool for t in env.state.lineage("img_3")] == ["crop", "super_resolution"]
    # the OCR result is memoised by image content: a new episode on the same scene reuses it
    env.reset(EpisodeItem(question, (png(scene),)))
    env.step(call("crop", image="img_1", x=370, y=290, width=label.width + 20, height=label.height + 20))
    env.step(call("super_resolution", image="img_2"))
    again = env.step(call("layout_parsing", image="img_3"))
    assert again.cached
    assert again.content == read.content
