"""``super_resolution(image, scale=4)``: OpenCV dnn_superres EDSR from ``EDSR_x{scale}.pb`` in a configured
folder (the released code's model). Without weights, or when they fail to load or run, the fallback is
PIL Lanczos ×scale followed by a mild unsharp mask (σ=1.5, amount=0.5): on 98 ZIM images downscaled ×4
it scores 20.50 dB mean PSNR against 20.34 for OpenCV bicubic, better on all 98 (tests/data/test_toolenv_zim.py).
The observation says which method ran. (The released code returns the original image instead.)
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image
from pydantic import Field

from toolenv.errors import ErrorKind, ToolError
from toolenv.tools.base import ImageRef, Tool, ToolArgs, ToolContext, ToolOutput
from toolenv.tools.sharpen import unsharp

log = logging.getLogger(__name__)

FALLBACK_SIGMA = 1.5
FALLBACK_AMOUNT = 0.5


class SuperResolutionArgs(ToolArgs):
    """Upscale a small or pixelated image."""

    image: ImageRef
    scale: Literal[2, 3, 4] = Field(default=4, description="upscaling factor")


def lanczos_unsharp(img: Image.Image, scale: int) -> Image.Image:
    """The fallback upscaler: Lanczos resampling, then a mild unsharp mask."""
    up = img.resize((img.width * scale, img.height * scale), Image.Resampling.LANCZOS)
    return Image.fromarray(unsharp(np.asarray(up), FALLBACK_AMOUNT, FALLBACK_SIGMA))


class SuperResolver:
    """EDSR via ``cv2.dnn_superres`` when ``EDSR_x{scale}.pb`` exists in ``model_dir``, else the fallback.

    Loaded models are kept per scale on the instance; calls are serialised (OpenCV's DNN object is not
    thread-safe).
    """

    def __init__(self, model_dir: Path | None) -> None:
        self.model_dir = model_dir
        self._models: dict[int, cv2.dnn_superres.DnnSuperResImpl | None] = {}
        self._lock = threading.Lock()
        self._notes: dict[int, str] = {}

    def weights_path(self, scale: int) -> Path | None:
        return None if self.model_dir is None else self.model_dir / f"EDSR_x{scale}.pb"

    def _model(self, scale: int) -> cv2.dnn_superres.DnnSuperResImpl | None:
        if scale in self._models:
            return self._models[scale]
        path = self.weights_path(scale)
        model: cv2.dnn_superres.DnnSuperResImpl | None = None
        if path is None:
            self._notes[scale] = "no EDSR weights configured"
        elif not path.is_file():
            self._notes[scale] = f"EDSR weights not found at {path}"
        else:
            try:
                model = cv2.dnn_superres.DnnSuperResImpl.create()
                model.readModel(str(path))
                model.setModel("edsr", scale)
            except cv2.error as err:
                log.warning("cannot load EDSR weights %s: %s", path, err)
                self._notes[scale] = f"EDSR weights at {path} failed to load"
                model = None
        self._models[scale] = model
        return model

    def upscale(self, img: Image.Image, scale: int) -> tuple[Image.Image, str]:
        """The upscaled image and a sentence naming the method used."""
        with self._lock:
            model = self._model(scale)
            if model is not None:
                try:
                    bgr = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
                    out = cv2.cvtColor(model.upsample(bgr), cv2.COLOR_BGR2RGB)
                    return Image.fromarray(out), f"EDSR ×{scale} (OpenCV dnn_superres)"
                except cv2.error as err:
                    log.warning("EDSR upsample failed: %s", err)
                    note = "EDSR inference failed"
            else:
                note = self._notes[scale]
        return lanczos_unsharp(img, scale), f"Lanczos ×{scale} + unsharp mask (fallback: {note})"


class SuperResolutionTool(Tool[SuperResolutionArgs]):
    name = "super_resolution"
    args_model = SuperResolutionArgs
    description = ("Upscale a small, low-resolution or pixelated image (e.g. width < 500 px or broken strokes) "
                   "before reading it.")

    def __init__(self, resolver: SuperResolver) -> None:
        self.resolver = resolver

    @property
    def fingerprint(self) -> str:
        return f"{self.name}:v1:{self.resolver.model_dir}"

    def run(self, args: SuperResolutionArgs, ctx: ToolContext) -> ToolOutput:
        src = ctx.image(args.image)
        w, h = src.width * args.scale, src.height * args.scale
        if w * h > ctx.config.max_output_pixels:
            raise ToolError(ErrorKind.BAD_ARGUMENTS, f"upscaling {args.image} ({src.width}×{src.height}) by "
                            f"{args.scale} gives {w}×{h}, over the {ctx.config.max_output_pixels}-pixel limit; "
                            "crop first")
        out, method = self.resolver.upscale(src, args.scale)
        return ToolOutput(f"Upscaled {args.image} from {src.width}×{src.height} to {out.width}×{out.height} "
                          f"with {method}.", (out,))
