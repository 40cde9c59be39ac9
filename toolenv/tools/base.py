"""What every tool is: a pydantic argument model (the JSON schema the model sees) plus ``run``.

A tool reads images from the episode's registry through ``ToolContext.image`` and returns a
``ToolOutput`` (text and new images); it signals failure by raising ``ToolError``. The environment
assigns ids to the new images, enforces the timeout, the cache and the per-call image cap.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from toolenv.config import EnvConfig
from toolenv.leakage import LeakageGuard

ImageRef = Annotated[
    str,
    Field(min_length=1, max_length=64, description="an image id such as img_1 (the input) or img_2, img_3, …"),
]


class ToolArgs(BaseModel):
    """Base of every argument model: unknown arguments are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


A = TypeVar("A", bound=ToolArgs)


@dataclass(frozen=True, slots=True)
class ToolOutput:
    text: str
    images: tuple[Image.Image, ...] = ()
    dropped_by_guard: int = 0


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a running tool may see of the episode."""

    image: Callable[[str], Image.Image]        # resolve an image id (raises ToolError(UNKNOWN_IMAGE))
    config: EnvConfig
    guard: LeakageGuard | None = None           # set when the leakage guard is on


class Tool(ABC, Generic[A]):
    """One tool. Subclasses set ``name``, ``args_model``, ``description`` and implement ``run``."""

    name: ClassVar[str]
    args_model: type[A]
    description: ClassVar[str]
    image_fields: ClassVar[tuple[str, ...]] = ("image",)

    @property
    def fingerprint(self) -> str:
        """What besides the arguments determines the result (backend identity); part of cache keys."""
        return f"{self.name}:v1"

    @abstractmethod
    def run(self, args: A, ctx: ToolContext) -> ToolOutput:
        """Execute the tool. Raise ``ToolError`` for failures the model should see."""

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The OpenAI-style function schema (``tools=`` / the ``<tools>`` block) from the args model."""
        params = _strip_titles(cls.args_model.model_json_schema())
        params.pop("description", None)
        return {"type": "function", "function": {"name": cls.name, "description": cls.description,
                                                 "parameters": params}}


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node
