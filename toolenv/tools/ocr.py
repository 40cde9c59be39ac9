"""``layout_parsing(image)``: OCR with rapidocr (local ONNX PaddleOCR models) standing in for the released
code's remote PP-StructureV3 service (PAPER.md §12.F item 31, [S]).

Recognised words are grouped into lines (vertical overlap) and lines into text blocks (small vertical
gaps, overlapping columns); the observation follows the released format: "Layout Parsing SUCCESS: N text
blocks detected.", one ``[Text Block i]`` per block, then "ALL RECOGNIZED TEXT:". Every block is
labelled ``text`` (rapidocr has no layout classes, so titles and footnotes are not told apart).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image
from pydantic import Field

from toolenv.errors import BackendError
from toolenv.tools.base import ImageRef, Tool, ToolArgs, ToolContext, ToolOutput

Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    box: Box          # x0, y0, x1, y1 in pixels of the input image
    score: float


class OcrEngine(Protocol):
    """Text detection + recognition over an RGB image."""

    name: str

    def recognize(self, image: Image.Image, *, use_orientation: bool = False) -> list[TextLine]: ...


class RapidOcrEngine:
    """rapidocr with its bundled ONNX models. The engine loads lazily on first use (≈2 s) and is shared
    by all episodes using this instance; calls are serialised."""

    name = "rapidocr"

    def __init__(self, *, max_side: int = 960, threads: int = 2, text_score: float = 0.5) -> None:
        # Det.limit_type "max": the default ("min" to 736) blows a 900×120 line up to 5520×736 (seconds).
        self.params: dict[str, Any] = {
            "Global.log_level": "error", "Global.text_score": text_score,
            "Det.limit_type": "max", "Det.limit_side_len": max_side,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._engine: Any = None
        self._lock = threading.Lock()

    def recognize(self, image: Image.Image, *, use_orientation: bool = False) -> list[TextLine]:
        with self._lock:
            if self._engine is None:
                from rapidocr import RapidOCR  # heavy import, deferred to first use

                self._engine = RapidOCR(params=self.params)
            out = self._engine(np.asarray(image.convert("RGB")), use_cls=use_orientation)
        if getattr(out, "txts", None) is None or getattr(out, "boxes", None) is None:
            return []
        lines = []
        for text, quad, score in zip(out.txts, out.boxes, out.scores, strict=True):
            xs, ys = quad[:, 0], quad[:, 1]
            box = (int(xs.min()), int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max())))
            if text.strip():
                lines.append(TextLine(" ".join(text.split()), box, float(score)))
        return lines


def group_lines(words: list[TextLine]) -> list[TextLine]:
    """Merge word/fragment boxes that share a text line; lines top to bottom, words left to right."""
    lines: list[list[TextLine]] = []
    for word in sorted(words, key=lambda w: ((w.box[1] + w.box[3]) / 2, w.box[0])):
        if lines:
            last = lines[-1]
            top, bottom = min(w.box[1] for w in last), max(w.box[3] for w in last)
            overlap = min(bottom, word.box[3]) - max(top, word.box[1])
            if overlap >= 0.5 * min(bottom - top, word.box[3] - word.box[1]):
                last.append(word)
                continue
        lines.append([word])
    out = []
    for parts in lines:
        parts.sort(key=lambda w: w.box[0])
        box = (min(w.box[0] for w in parts), min(w.box[1] for w in parts),
               max(w.box[2] for w in parts), max(w.box[3] for w in parts))
        out.append(TextLine(" ".join(w.text for w in parts), box, min(w.score for w in parts)))
    return out


def group_blocks(lines: list[TextLine]) -> list[list[TextLine]]:
    """Consecutive lines with a gap under one line height and overlapping columns form a block."""
    blocks: list[list[TextLine]] = []
    for line in lines:
        if blocks:
            prev = blocks[-1][-1]
            height = prev.box[3] - prev.box[1]
            gap = line.box[1] - prev.box[3]
            columns_overlap = min(prev.box[2], line.box[2]) > max(prev.box[0], line.box[0])
            if gap < height and columns_overlap:
                blocks[-1].append(line)
                continue
        blocks.append([line])
    return blocks


def format_layout(lines: list[TextLine]) -> str:
    """The released layout_parsing observation text."""
    blocks = group_blocks(lines)
    parts = [f"Layout Parsing SUCCESS: {len(blocks)} text blocks detected."]
    for i, block in enumerate(blocks, 1):
        box = (min(x.box[0] for x in block), min(x.box[1] for x in block),
               max(x.box[2] for x in block), max(x.box[3] for x in block))
        parts.append(f"[Text Block {i}] (label: text, bbox: [{box[0]}, {box[1]}, {box[2]}, {box[3]}])\n"
                     + "\n".join(x.text for x in block))
    parts.append("ALL RECOGNIZED TEXT:\n" + ("\n".join(x.text for x in lines) if lines else "(no text found)"))
    return "\n\n".join(parts)


class LayoutParsingArgs(ToolArgs):
    """Read all text in an image (OCR) with text-block boxes in reading order."""

    image: ImageRef
    use_chart_recognition: bool = Field(default=False, description="accepted for compatibility; no effect")
    use_doc_orientation_classify: bool = Field(default=False, description="classify upside-down text lines")


class LayoutParsingTool(Tool[LayoutParsingArgs]):
    name = "layout_parsing"
    args_model = LayoutParsingArgs
    description = ("OCR: read the text in an image and return text blocks with bounding boxes plus all "
                   "recognised text. Treat its output as ground truth for text in the image.")

    def __init__(self, engine: OcrEngine) -> None:
        self.engine = engine

    @property
    def fingerprint(self) -> str:
        return f"{self.name}:v1:{self.engine.name}"

    def run(self, args: LayoutParsingArgs, ctx: ToolContext) -> ToolOutput:
        img = ctx.image(args.image)
        try:
            words = self.engine.recognize(img, use_orientation=args.use_doc_orientation_classify)
        except (RuntimeError, ValueError, OSError) as err:
            raise BackendError(f"OCR engine failed: {err}") from err
        return ToolOutput(format_layout(group_lines(words)))
