"""Error kinds and the stable marker strings that error observations carry.

Every error observation starts with ``[ERROR:<kind>]`` (what our fatal-step detector reads), followed
where one exists by the released code's own wording, so its detector (PAPER.md §7: ``[Json Parse Error]``,
``Tool execution error:``, ``Error executing``, ``Error: Image reference``) matches too. Prefer the
explicit ``Observation.error`` flag over string matching; the markers exist for text-only consumers
(SFT shards, logs).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a step failed. Every kind counts as a bad step for the consecutive-error stop."""

    PROTOCOL = "protocol"              # turn format: missing <think>, two actions, no action, too long
    MALFORMED_JSON = "malformed_json"  # <tool_call> body is not a JSON object with name/arguments
    UNKNOWN_TOOL = "unknown_tool"
    BAD_ARGUMENTS = "bad_arguments"    # arguments fail the tool's pydantic model or the image geometry
    UNKNOWN_IMAGE = "unknown_image"    # an img_N that is not in the registry
    BAD_IMAGE = "bad_image"            # undecodable, oversized or bomb image bytes
    TIMEOUT = "timeout"
    BACKEND = "backend"                # remote/engine failure, malformed payload, unexpected exception


def marker(kind: ErrorKind) -> str:
    """The stable marker for ``kind``, e.g. ``[ERROR:timeout]``."""
    return f"[ERROR:{kind.value}]"


ERROR_MARKERS: tuple[str, ...] = tuple(marker(k) for k in ErrorKind)

# The released fatal detector's substrings (PAPER.md §7), kept so both detectors agree on our output.
RELEASED_ERROR_MARKERS: tuple[str, ...] = (
    "[Json Parse Error]",
    "Tool execution error:",
    "Error executing",
    "Error: Image reference",
)

_PREFIX: dict[ErrorKind, str] = {
    ErrorKind.PROTOCOL: "Invalid content format: ",
    ErrorKind.MALFORMED_JSON: "[Json Parse Error]: Tool call is not a valid JSON. ",
    ErrorKind.UNKNOWN_TOOL: "Error executing tool: ",
    ErrorKind.BAD_ARGUMENTS: "Error executing tool: invalid arguments: ",
    ErrorKind.UNKNOWN_IMAGE: "",   # the message is the released string itself
    ErrorKind.BAD_IMAGE: "Error executing tool: invalid image: ",
    ErrorKind.TIMEOUT: "Tool execution error: ",
    ErrorKind.BACKEND: "Tool execution error: ",
}


def error_text(kind: ErrorKind, message: str) -> str:
    """The observation text of an error: marker, released prefix, message."""
    return f"{marker(kind)} {_PREFIX[kind]}{message}"


def error_kind_of(text: str) -> ErrorKind | None:
    """The error kind whose marker ``text`` carries, or ``None`` (for text-only consumers)."""
    for kind in ErrorKind:
        if marker(kind) in text:
            return kind
    return None


def unknown_image_message(ref: str, available: list[str]) -> str:
    """The released code's wording for an unknown image id."""
    return f"Error: Image reference '{ref}' not found. Available: {available}"


class ToolError(Exception):
    """Raised inside tools and backends; the environment turns it into an error observation."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class BackendError(ToolError):
    """A backend (search API, OCR engine, index) failed or returned a malformed payload."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.BACKEND, message)


class BackendTimeout(ToolError):
    """A backend did not answer within its timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.TIMEOUT, message)


def fatal_step(step_errors: list[bool], k: int = 3) -> int | None:
    """1-based index of the step where the first run of ``k`` consecutive errors *starts* (the released
    code's ``fatal_start = idx − K + 1``, PAPER.md §8.2.2), or ``None`` when there is no such run."""
    run = 0
    for i, failed in enumerate(step_errors, 1):
        run = run + 1 if failed else 0
        if run == k:
            return i - k + 1
    return None
