"""The tool environment: Prefect-free, shared by teacher synthesis and GRPO rollouts (DESIGN.md §C.10).

Typical use::

    from toolenv import EnvConfig, EpisodeItem, ImageIndex, RapidOcrEngine, TextIndex, ToolEnv

    env = ToolEnv.build(EnvConfig(), text_search=TextIndex.from_documents(docs),
                        image_search=ImageIndex.build(entries), ocr=RapidOcrEngine(), cache=my_cache)
    obs = env.reset(EpisodeItem(question="…", images=(image_bytes,)))
    while not obs.done:
        obs = env.step(model_turn(obs))
"""

from toolenv.backends.base import ImageHit, ImageSearch, PageReader, SearchHit, Summarizer, TextSearch
from toolenv.backends.image_index import ImageEmbedder, ImageEntry, ImageIndex
from toolenv.backends.remote import JinaReader, LensImageSearch, SerperSearch
from toolenv.backends.summary import ExtractiveSummarizer
from toolenv.backends.text_index import Document, TextIndex
from toolenv.cache import CachedResult, MemoryToolCache, ToolCache, request_key
from toolenv.config import EnvConfig, ImageLimits
from toolenv.env import EpisodeItem, EpisodeOverError, EpisodeState, Observation, TerminalReason, ToolEnv, Transform
from toolenv.errors import (
    ERROR_MARKERS,
    RELEASED_ERROR_MARKERS,
    BackendError,
    BackendTimeout,
    ErrorKind,
    ToolError,
    error_kind_of,
    fatal_step,
    marker,
)
from toolenv.images import StoredImage, decode_image
from toolenv.leakage import LeakageGuard
from toolenv.protocol import FinalAnswer, ProtocolError, ToolCall, format_tool_response, parse_turn
from toolenv.registry import ToolRegistry, default_registry
from toolenv.tools.base import Tool, ToolArgs, ToolContext, ToolOutput
from toolenv.tools.ocr import OcrEngine, RapidOcrEngine, TextLine

__all__ = [
    "ERROR_MARKERS",
    "RELEASED_ERROR_MARKERS",
    "BackendError",
    "BackendTimeout",
    "CachedResult",
    "Document",
    "EnvConfig",
    "EpisodeItem",
    "EpisodeOverError",
    "EpisodeState",
    "ErrorKind",
    "ExtractiveSummarizer",
    "FinalAnswer",
    "ImageEmbedder",
    "ImageEntry",
    "ImageHit",
    "ImageIndex",
    "ImageLimits",
    "ImageSearch",
    "JinaReader",
    "LeakageGuard",
    "LensImageSearch",
    "MemoryToolCache",
    "Observation",
    "OcrEngine",
    "PageReader",
    "ProtocolError",
    "RapidOcrEngine",
    "SearchHit",
    "SerperSearch",
    "StoredImage",
    "Summarizer",
    "TerminalReason",
    "TextIndex",
    "TextLine",
    "TextSearch",
    "Tool",
    "ToolArgs",
    "ToolCache",
    "ToolCall",
    "ToolContext",
    "ToolEnv",
    "ToolError",
    "ToolOutput",
    "ToolRegistry",
    "Transform",
    "decode_image",
    "default_registry",
    "error_kind_of",
    "fatal_step",
    "format_tool_response",
    "marker",
    "parse_turn",
    "request_key",
]
