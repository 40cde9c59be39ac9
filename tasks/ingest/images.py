"""Safe image decoding and the content-addressed image store (``images/<sha[:2]>/<sha>.<ext>``).

Bytes from a dump, a ZIM or an API are untrusted: size and pixel limits are checked before a full
decode, decompression bombs and non-images come back as a reason string, never an exception.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from tasks.ingest.wikitext import title_problem

_EXT = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}


@dataclass(frozen=True, slots=True)
class DecodedImage:
    sha256: str
    format: str
    width: int
    height: int
    size_bytes: int

    @property
    def relpath(self) -> str:
        return f"images/{self.sha256[:2]}/{self.sha256}.{_EXT.get(self.format, 'bin')}"


@dataclass(frozen=True, slots=True)
class ImageProblem:
    reason: str   # too_large | not_an_image | unsupported_format | decompression_bomb | corrupt_image
    #               | invalid_file_name
    detail: str


def file_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a wiki file name (one line), or None: a title problem (control characters,
    invalid UTF-8, …) or a path separator / dot-segment that looks like a path-traversal attempt."""
    if "/" in name or "\\" in name or name.strip() in (".", "..") or name.startswith("."):
        return f"file name {name[:120]!r} looks like a path (separator or leading dot)"
    return title_problem(name)


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> DecodedImage | ImageProblem:
    """Check untrusted bytes: limits first, then a header read, then a full decode."""
    if len(data) > max_bytes:
        return ImageProblem("too_large", f"{len(data)} bytes > limit {max_bytes}")
    head = data[:4096].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        return ImageProblem("unsupported_format", "SVG (vector) images are not decoded; no raster bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                fmt = img.format or "UNKNOWN"
                if width * height > max_pixels:
                    return ImageProblem("decompression_bomb",
                                        f"{width}x{height} = {width * height} pixels > limit {max_pixels}")
                if fmt not in _EXT:
                    return ImageProblem("unsupported_format", f"format {fmt}")
                img.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        return ImageProblem("decompression_bomb", str(err)[:300])
    except UnidentifiedImageError:
        return ImageProblem("not_an_image", "bytes are not a recognised image format")
    except (OSError, ValueError, SyntaxError) as err:
        return ImageProblem("corrupt_image", f"{type(err).__name__}: {err}"[:300])
    return DecodedImage(hashlib.sha256(data).hexdigest(), fmt, width, height, len(data))


def store_image(data_dir: Path, image: DecodedImage, data: bytes) -> Path:
    """Write the bytes under their content address (atomic; a second write of the same bytes is a no-op)."""
    dest = data_dir / image.relpath
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest
