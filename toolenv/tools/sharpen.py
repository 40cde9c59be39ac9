"""``sharpen(image, amount=1.5)``: the released unsharp mask, out = (1+a)·I − a·G_σ=3(I)."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image
from pydantic import Field

from toolenv.tools.base import ImageRef, Tool, ToolArgs, ToolContext, ToolOutput

SIGMA = 3.0


class SharpenArgs(ToolArgs):
    """Sharpen a blurry image with an unsharp mask."""

    image: ImageRef
    amount: float = Field(default=1.5, ge=0.0, le=10.0, description="strength of the unsharp mask")


def unsharp(arr: np.ndarray, amount: float, sigma: float = SIGMA) -> np.ndarray:
    """OpenCV unsharp masking on a uint8 array, saturating to [0, 255]."""
    blurred = cv2.GaussianBlur(arr, (0, 0), sigma)
    return cv2.addWeighted(arr, 1.0 + amount, blurred, -amount, 0)


def sharpen(img: Image.Image, amount: float = 1.5) -> Image.Image:
    return Image.fromarray(unsharp(np.asarray(img), amount))


class SharpenTool(Tool[SharpenArgs]):
    name = "sharpen"
    args_model = SharpenArgs
    description = "Sharpen a blurry image (unsharp mask) so that edges and text become clearer."

    def run(self, args: SharpenArgs, ctx: ToolContext) -> ToolOutput:
        out = sharpen(ctx.image(args.image), args.amount)
        return ToolOutput(f"Sharpened {args.image} with an unsharp mask (amount={args.amount:g}, sigma={SIGMA:g}).",
                          (out,))
