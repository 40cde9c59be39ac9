"""Safe image decoding: limits are checked on the header, bad bytes are BAD_IMAGE errors, modes normalise."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from toolenv.config import ImageLimits
from toolenv.errors import ErrorKind, ToolError
from toolenv.images import decode_image, encode_png, mime_of, store_input, store_output


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def with_ihdr_size(png: bytes, width: int, height: int) -> bytes:
    """A real PNG whose header claims another size (CRC fixed): a decompression-bomb header."""
    assert png[12:16] == b"IHDR"
    ihdr = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:8] + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def encoded(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def expect_bad(data: bytes, needle: str, limits: ImageLimits | None = None) -> None:
    with pytest.raises(ToolError) as info:
        decode_image(data, limits or ImageLimits())
    assert info.value.kind == ErrorKind.BAD_IMAGE
    assert needle in info.value.message


def test_non_image_and_empty_bytes() -> None:
    expect_bad(b"", "empty")
    expect_bad(b"%PDF-1.4 definitely not a picture", "not an image")


def test_byte_limit() -> None:
    noise = Image.frombytes("L", (64, 64), bytes(range(256)) * 16)
    expect_bad(png_bytes(noise), "exceeds the limit of 100", ImageLimits(max_bytes=100))


def test_bomb_header_is_refused_before_decoding() -> None:
    small = png_bytes(Image.new("L", (8, 8)))
    expect_bad(with_ihdr_size(small, 100_000, 100_000), "decompression bomb")    # PIL's own guard
    expect_bad(with_ihdr_size(small, 20_000, 100), "exceeds the side limit")     # ours, header only
    expect_bad(with_ihdr_size(small, 7_000, 7_000), "exceeds the limit of 40000000 pixels")


def test_pixel_limit_on_a_real_large_image() -> None:
    big = png_bytes(Image.new("1", (8000, 6000)))  # 48 M pixels, a few kB encoded
    assert len(big) < 100_000
    expect_bad(big, "exceeds the limit of 40000000 pixels")


def test_truncated_and_disallowed() -> None:
    jpeg = encoded(Image.new("RGB", (64, 64), (200, 10, 10)), "JPEG")
    expect_bad(jpeg[: len(jpeg) // 2], "cannot decode")
    expect_bad(encoded(Image.new("RGB", (8, 8)), "PPM"), "not an image in an allowed format")
    expect_bad(jpeg, "allowed format", ImageLimits(formats=("PNG",)))


def test_modes_normalise_to_rgb() -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert decode_image(png_bytes(rgba), ImageLimits()).getpixel((0, 0)) == (255, 255, 255)
    gray = decode_image(png_bytes(Image.new("L", (4, 4), 77)), ImageLimits())
    assert gray.mode == "RGB"
    assert gray.getpixel((1, 1)) == (77, 77, 77)
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    pal.info["transparency"] = 0
    assert decode_image(png_bytes(pal), ImageLimits()).getpixel((0, 0)) == (10, 20, 30)


def test_exif_orientation_and_animated_gif() -> None:
    img = Image.new("RGB", (40, 20), (0, 128, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    assert decode_image(encoded(img, "JPEG", exif=exif.tobytes()), ImageLimits()).size == (20, 40)
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert decode_image(gif, ImageLimits()).getpixel((5, 5)) == (255, 0, 0)


def test_stored_images_are_content_addressed() -> None:
    data = png_bytes(Image.new("RGB", (6, 6), (1, 2, 3)))
    first = store_input("img_1", data, ImageLimits())
    assert first.data == data
    assert first.mime == "image/png"
    assert len(first.sha256) == 64
    out = store_output("img_2", first.image)
    assert out.sha256 == store_output("img_9", first.image).sha256
    assert Image.open(io.BytesIO(out.data)).size == (6, 6)
    assert encode_png(first.image) == out.data
    assert mime_of(b"\xff\xd8\xff") == "image/jpeg"
    assert mime_of(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert mime_of(b"??") == "application/octet-stream"
