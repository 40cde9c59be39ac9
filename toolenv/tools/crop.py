"""``crop(image, x, y, width, height)``: PIL crop in absolute pixels of the referenced image.

The origin must lie inside the image; a box that runs past the right or bottom edge is clipped to
the image and the observation says so (the released code lets PIL pad with black instead).
"""

from __future__ import annotations

from PIL import Image
from pydantic import Field

from toolenv.errors import ErrorKind, ToolError
from toolenv.tools.base import ImageRef, Tool, ToolArgs, ToolContext, ToolOutput


class CropArgs(ToolArgs):
    """Crop a region given by its top-left corner and size, in pixels of the referenced image."""

    image: ImageRef
    x: int = Field(ge=0, description="left edge in pixels")
    y: int = Field(ge=0, description="top edge in pixels")
    width: int = Field(gt=0, description="width in pixels (positive)")
    height: int = Field(gt=0, description="height in pixels (positive)")


def crop_box(size: tuple[int, int], x: int, y: int, width: int, height: int) -> tuple[tuple[int, int, int, int], bool]:
    """The PIL box for a crop, clipped to ``size``, and whether clipping happened."""
    w, h = size
    if x >= w or y >= h:
        raise ToolError(ErrorKind.BAD_ARGUMENTS,
                        f"crop origin ({x}, {y}) lies outside the {w}×{h} image; use 0 ≤ x < {w}, 0 ≤ y < {h}")
    box = (x, y, min(x + width, w), min(y + height, h))
    return box, box[2] != x + width or box[3] != y + height


def crop(img: Image.Image, x: int, y: int, width: int, height: int) -> tuple[Image.Image, bool]:
    box, clipped = crop_box(img.size, x, y, width, height)
    return img.crop(box), clipped


class CropTool(Tool[CropArgs]):
    name = "crop"
    args_model = CropArgs
    description = ("Crop a region of an image to inspect small details (use when the target covers less than "
                   "30% of the image). Coordinates are absolute pixels; (x, y) is the top-left corner.")

    def run(self, args: CropArgs, ctx: ToolContext) -> ToolOutput:
        src = ctx.image(args.image)
        out, clipped = crop(src, args.x, args.y, args.width, args.height)
        note = f" The box ran past the {src.width}×{src.height} image and was clipped to it." if clipped else ""
        return ToolOutput(f"Cropped {args.image} at (x={args.x}, y={args.y}, width={args.width}, "
                          f"height={args.height}).{note}", (out,))
