"""Safe image decoding and deterministic encoding.

``decode_image`` checks the encoded size, the format allowlist and the header's dimensions *before*
any pixel is read, so a decompression bomb is refused without allocating it; truncated or non-image
bytes raise ``ToolError(BAD_IMAGE)``, which the environment turns into an error observation.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from toolenv.config import ImageLimits
from toolenv.errors import ErrorKind, ToolError


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image in an episode's registry: pixels for the tools, encoded bytes for the trajectory."""

    id: str
    image: Image.Image      # RGB
    data: bytes             # original bytes for inputs, PNG for tool outputs
    mime: str
    sha256: str             # of ``data``; content address in the warehouse and in cache keys

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_image(data: bytes, limits: ImageLimits) -> Image.Image:
    """Decode ``data`` into an RGB image, enforcing ``limits``. Raises ``ToolError(BAD_IMAGE)``."""
    if not data:
        raise ToolError(ErrorKind.BAD_IMAGE, "empty image data")
    if len(data) > limits.max_bytes:
        raise ToolError(ErrorKind.BAD_IMAGE, f"{len(data)} bytes exceeds the limit of {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=list(limits.formats))
            _check_size(opened.width, opened.height, limits)
            opened.seek(0)
            opened.load()
            img = ImageOps.exif_transpose(opened)
    except ToolError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ToolError(ErrorKind.BAD_IMAGE, f"decompression bomb refused ({err})") from err
    except UnidentifiedImageError as err:
        raise ToolError(ErrorKind.BAD_IMAGE, f"not an image in an allowed format {list(limits.formats)}") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ToolError(ErrorKind.BAD_IMAGE, f"cannot decode image: {err}") from err
    return to_rgb(img)


def _check_size(width: int, height: int, limits: ImageLimits) -> None:
    if width <= 0 or height <= 0:
        raise ToolError(ErrorKind.BAD_IMAGE, f"invalid dimensions {width}×{height}")
    if max(width, height) > limits.max_side:
        raise ToolError(ErrorKind.BAD_IMAGE, f"{width}×{height} exceeds the side limit of {limits.max_side} px")
    if width * height > limits.max_pixels:
        raise ToolError(ErrorKind.BAD_IMAGE, f"{width}×{height} exceeds the limit of {limits.max_pixels} pixels")


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB with any transparency composited onto white (what a viewer shows)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


def encode_png(img: Image.Image) -> bytes:
    """PNG bytes of ``img``; deterministic for a given Pillow/zlib build."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def mime_of(data: bytes) -> str:
    """The MIME type of encoded image bytes (by magic number); ``application/octet-stream`` if unknown."""
    for magic, mime in ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"),
                        (b"BM", "image/bmp"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff")):
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def store_input(img_id: str, data: bytes, limits: ImageLimits) -> StoredImage:
    """Decode an episode's input image; its id is content-addressed by the *original* bytes."""
    return StoredImage(img_id, decode_image(data, limits), data, mime_of(data), sha256_hex(data))


def store_output(img_id: str, img: Image.Image) -> StoredImage:
    """Register a tool's output image, encoded as PNG."""
    rgb = to_rgb(img)
    data = encode_png(rgb)
    return StoredImage(img_id, rgb, data, "image/png", sha256_hex(data))
