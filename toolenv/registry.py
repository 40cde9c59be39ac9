"""Tool name → tool. The JSON schemas sent to a model come from the same argument models that validate
its calls, so the two cannot drift."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from toolenv.backends.base import ImageSearch, Summarizer, TextSearch
from toolenv.backends.summary import ExtractiveSummarizer
from toolenv.config import EnvConfig
from toolenv.tools.base import Tool
from toolenv.tools.crop import CropTool
from toolenv.tools.image_search import ImageSearchTool
from toolenv.tools.ocr import LayoutParsingTool, OcrEngine
from toolenv.tools.perspective import PerspectiveCorrectTool
from toolenv.tools.sharpen import SharpenTool
from toolenv.tools.superres import SuperResolutionTool, SuperResolver
from toolenv.tools.text_search import TextSearchTool

AnyTool = Tool[Any]


class ToolRegistry:
    """An ordered, immutable set of tools with unique names."""

    def __init__(self, tools: Iterable[AnyTool]) -> None:
        self._tools: dict[str, AnyTool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"duplicate tool name {tool.name!r}")
            self._tools[tool.name] = tool

    def get(self, name: str) -> AnyTool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def __iter__(self) -> Iterator[AnyTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI-style function schemas, in registry order (for ``tools=`` or the ``<tools>`` block)."""
        return [tool.schema() for tool in self]


PAPER_TOOLS: tuple[type[AnyTool], ...] = (CropTool, SharpenTool, SuperResolutionTool, PerspectiveCorrectTool,
                                          LayoutParsingTool, TextSearchTool, ImageSearchTool)


def paper_tool_schemas() -> list[dict[str, Any]]:
    """The seven tools' schemas in ``default_registry`` order, without building any backend (export and
    training render the agent prompt from these)."""
    return [cls.schema() for cls in PAPER_TOOLS]


def default_registry(config: EnvConfig, *, text_search: TextSearch | None = None,
                     image_search: ImageSearch | None = None, ocr: OcrEngine | None = None,
                     summarizer: Summarizer | None = None) -> ToolRegistry:
    """The paper's seven tools; a tool whose backend is ``None`` is left out (calls to it are unknown-tool
    errors). Image tools need no backend; ``super_resolution`` uses ``config.superres_model_dir``."""
    tools: list[AnyTool] = [CropTool(), SharpenTool(), SuperResolutionTool(SuperResolver(config.superres_model_dir)),
                            PerspectiveCorrectTool()]
    if ocr is not None:
        tools.append(LayoutParsingTool(ocr))
    if text_search is not None:
        tools.append(TextSearchTool(text_search, summarizer or ExtractiveSummarizer(
            config.summary_sentences, config.summary_max_chars, config.summary_page_chars)))
    if image_search is not None:
        tools.append(ImageSearchTool(image_search))
    return ToolRegistry(tools)
