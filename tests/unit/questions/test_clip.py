"""The real CLIP loading and scoring path, with a tiny random-weight CLIP built from a config."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from schemas.errors import ConfigError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def tiny_clip(dest: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config={"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 32},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 2, "num_attention_heads": 2},
        projection_dim=16,
    )
    CLIPModel(cfg).save_pretrained(dest)
    words = ["[PAD]", "[UNK]", "algeria", "country", "flag", "the", "in", "image", "of", "a"]
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]").save_pretrained(dest)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(dest)
    return dest


def test_tiny_clip_scores_are_cosines(tmp_path: Path) -> None:
    from tasks.questions.clip import load_clip_scorer

    model_dir = tiny_clip(tmp_path / "tiny-clip")
    paths = []
    for i, colour in enumerate(["red", "green", "blue"]):
        p = tmp_path / f"{i}.png"
        Image.new("RGB", (64, 48), colour).save(p)
        paths.append(str(p))
    score, name = load_clip_scorer(model_dir)
    scores = score(paths, "Algeria, country")
    assert name == "clip:tiny-clip"
    assert len(scores) == 3
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert score(paths, "Algeria, country") == scores          # deterministic


def test_missing_clip_dir_is_a_config_error(tmp_path: Path) -> None:
    from tasks.questions.clip import load_clip_scorer

    with pytest.raises(ConfigError, match=r"no config\.json"):
        load_clip_scorer(tmp_path)
