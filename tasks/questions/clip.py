"""CLIP relevance for source-anchor grounding (PAPER.md §4; [S] ViT-L/14), from a local model directory.

The directory is a ``save_pretrained`` CLIP checkpoint with its tokenizer and image processor (no
download ever happens: ``local_files_only``). The score is the cosine similarity of the image and text
embeddings, the raw CLIP number the paper's 0.28 threshold is calibrated to. torch and transformers
are imported only when a model is configured (the ``train`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from schemas.errors import ConfigError
from tasks.questions.ground import ImageScorer


def load_clip_scorer(model_dir: Path, device: str = "cpu") -> tuple[ImageScorer, str]:
    """``(scorer, method name)``; ``ConfigError`` when the directory is not a loadable CLIP model."""
    try:
        import torch
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel
    except ImportError as err:
        raise ConfigError(f"questions.clip_model_path needs torch and transformers (pip install -e '.[train]'): "
                          f"{err}") from err
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"questions.clip_model_path {model_dir} has no config.json (expected a CLIP checkpoint)")
    try:
        model: Any = CLIPModel.from_pretrained(str(model_dir), local_files_only=True)
        model = model.to(device).eval()
        tokenizer: Any = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        processor: Any = AutoImageProcessor.from_pretrained(  # type: ignore[no-untyped-call]
            str(model_dir), local_files_only=True, use_fast=False)
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot load CLIP model from {model_dir}: {err}") from err

    def score(paths: Sequence[str], text: str) -> list[float]:
        images = []
        for p in paths:
            with Image.open(p) as im:
                images.append(im.convert("RGB"))
        with torch.no_grad():
            pix = processor(images=images, return_tensors="pt")["pixel_values"].to(device)
            max_len = model.config.text_config.max_position_embeddings
            tok = tokenizer([text], padding=True, truncation=True, max_length=max_len, return_tensors="pt").to(device)
            img = model.get_image_features(pixel_values=pix)
            txt = model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok.get("attention_mask"))
            img = getattr(img, "pooler_output", img)
            txt = getattr(txt, "pooler_output", txt)
            img = img / img.norm(dim=-1, keepdim=True)
            txt = txt / txt.norm(dim=-1, keepdim=True)
            return [float(x) for x in (img @ txt.T).squeeze(-1).tolist()]

    return score, f"clip:{model_dir.name}"
