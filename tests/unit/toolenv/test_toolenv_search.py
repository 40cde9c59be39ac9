"""Local search backends, summaries, the leakage guard, cache keys and tool schemas."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from toolenv.backends.image_features import crop_windows, multi_crop_hashes
from toolenv.backends.image_index import ImageEntry, ImageIndex
from toolenv.backends.summary import ExtractiveSummarizer, split_sentences
from toolenv.backends.text_index import Document, TextIndex
from toolenv.cache import MemoryToolCache, request_key
from toolenv.config import EnvConfig
from toolenv.leakage import LeakageGuard, words
from toolenv.registry import ToolRegistry, default_registry
from toolenv.tools.crop import CropTool

DOCS = [
    Document("Ray Charles", "https://w/Ray_Charles",
             "Ray Charles Robinson was an American singer and pianist. He was born in Albany, Georgia, in 1930. "
             "He lost his sight by the age of seven. Charles recorded Georgia on My Mind in 1960.",
             ("Brother Ray", "The Genius")),
    Document("Quincy Jones", "https://w/Quincy_Jones",
             "Quincy Jones is an American record producer. He produced Thriller for Michael Jackson. "
             "Jones and Ray Charles met in Seattle as teenagers."),
    Document("Albany, Georgia", "https://w/Albany",
             "Albany is a city in the U.S. state of Georgia. It is the county seat of Dougherty County."),
    Document("Ray Charles (duplicate url)", "https://w/Ray_Charles", "Ray Charles Ray Charles Ray Charles."),
]


@pytest.fixture(scope="module")
def text_index() -> TextIndex:
    return TextIndex.from_documents(DOCS)


def test_text_index_ranks_titles_and_aliases(text_index: TextIndex) -> None:
    assert text_index.search("Quincy Jones producer", 2)[0].title == "Quincy Jones"
    assert text_index.search("the genius", 1)[0].title == "Ray Charles"        # alias field
    assert text_index.search("singers born", 1)[0].title == "Ray Charles"      # stemming
    urls = [h.url for h in text_index.search("Ray Charles", 5)]
    assert len(urls) == len(set(urls))                                        # one hit per page
    assert text_index.search("AND OR \"unbalanced (title:", 3) == text_index.search("and or unbalanced title", 3)
    assert text_index.search("?!", 3) == []
    assert text_index.search("Georgia", 3) == text_index.search("Georgia", 3)
    assert len(text_index) == 4


def test_text_index_directory_roundtrip(tmp_path: Path, text_index: TextIndex) -> None:
    built = TextIndex.from_documents(DOCS, path=tmp_path / "idx")
    reopened = TextIndex.open(tmp_path / "idx")
    assert reopened.fingerprint == built.fingerprint == text_index.fingerprint
    assert reopened.search("Albany county", 3) == text_index.search("Albany county", 3)
    with pytest.raises(ValueError, match="not empty"):
        TextIndex.from_documents(DOCS, path=tmp_path / "idx")
    assert TextIndex.from_documents(DOCS[:2]).fingerprint != text_index.fingerprint


def test_extractive_summary_is_query_focused() -> None:
    text = DOCS[0].text
    summary = ExtractiveSummarizer(sentences=2).summarize("where was he born", "Ray Charles", text)
    assert summary.startswith("He was born in Albany, Georgia, in 1930.")
    lead = ExtractiveSummarizer(sentences=2).summarize("zzz", "Ray Charles", text)
    assert lead == "Ray Charles Robinson was an American singer and pianist. He was born in Albany, Georgia, in 1930."
    assert len(ExtractiveSummarizer(max_chars=60).summarize("born", "", text * 5)) <= 60
    assert split_sentences("# Heading\n\nOne. Two!\nThree?") == ["# Heading", "One.", "Two!", "Three?"]


def test_extractive_summary_ranks_title_words_after_the_rest_of_the_query() -> None:
    text = ("Afghanistan is a landlocked country. Afghanistan has a long history. Afghanistan borders Iran.\n"
            "- capital: Kabul\n- demonym: Afghan\n- drives on: right")
    summarize = ExtractiveSummarizer(sentences=1).summarize
    assert summarize("Afghanistan demonym", "Afghanistan", text) == "- demonym: Afghan"
    assert summarize("Afghanistan drives on", "Afghanistan", text) == "- drives on: right"
    # the title's words still rank sentences when they are all the query has, and break ties
    assert summarize("Afghanistan", "Afghanistan", text) == "Afghanistan is a landlocked country."
    assert summarize("Afghanistan Iran", "Afghanistan", text) == "Afghanistan borders Iran."


def test_leakage_guard_matches_13_grams_only() -> None:
    q = "Which city was the birthplace of the singer who recorded the song that became the official state song?"
    guard = LeakageGuard.build([q], 13)
    assert guard.leaks("Trivia: which city was the BIRTHPLACE of the singer who recorded the song that became x")
    assert not guard.leaks("the singer who recorded the song that became the official state song of Georgia")
    assert not LeakageGuard.build(["too short a question"], 13).leaks("too short a question")
    assert words("Algérie's") == ["algerie", "s"]
    assert guard.fingerprint != LeakageGuard.build([q + "?"], 13).fingerprint


def test_request_key_is_stable_and_content_addressed() -> None:
    key = request_key("crop", {"x": 1, "y": 2}, ["ab" * 32], context="crop:v1")
    assert key == request_key("crop", {"y": 2, "x": 1}, ["ab" * 32], context="crop:v1")
    assert key == "0386fa8bb384f9741e0752826e08d5ab22c0196649356ec34b71786b772ff57a"
    assert key != request_key("crop", {"x": 1, "y": 2}, ["cd" * 32], context="crop:v1")
    assert key != request_key("crop", {"x": 1, "y": 2}, ["ab" * 32], context="crop:v2")
    cache = MemoryToolCache()
    assert cache.get(key) is None
    assert cache.misses == 1


def test_registry_schemas_come_from_the_argument_models(text_index: TextIndex) -> None:
    registry = default_registry(EnvConfig(), text_search=text_index)
    assert registry.names() == ["crop", "sharpen", "super_resolution", "perspective_correct", "text_search"]
    crop = registry.schemas()[0]["function"]
    assert crop["parameters"]["required"] == ["image", "x", "y", "width", "height"]
    assert crop["parameters"]["additionalProperties"] is False
    assert "title" not in crop["parameters"]["properties"]["x"]
    search = registry.schemas()[-1]["function"]["parameters"]
    assert search["properties"]["top_k"]["default"] == 5
    assert search["properties"]["hl"]["default"] == "en"
    with pytest.raises(ValueError, match="duplicate"):
        ToolRegistry([CropTool(), CropTool()])


# ------------------------------------------------------------------ image index on generated pictures
def picture(seed: int, size: tuple[int, int] = (200, 160)) -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(8):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x0, y0, x0 + rng.randrange(20, 90), y0 + rng.randrange(20, 90))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return img


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def entries(n: int) -> list[ImageEntry]:
    out = []
    for i in range(n):
        data = png(picture(i))
        out.append(ImageEntry(hashlib.sha256(data).hexdigest(), data, f"Page {i}", f"caption {i}", f"https://w/{i}"))
    return out


@pytest.fixture(scope="module")
def image_index() -> ImageIndex:
    shared = entries(1)[0]
    extra = ImageEntry(shared.sha256, shared.image, "Another page", "same image", "https://w/other")
    broken = ImageEntry("bad", b"not an image", "Broken", "", "https://w/broken")
    return ImageIndex.build([*entries(20), extra, broken])


def test_image_index_finds_degraded_crops(image_index: ImageIndex) -> None:
    assert len(image_index) == 20
    assert image_index.skipped == [("bad", "not an image in an allowed format "
                                            "['PNG', 'JPEG', 'GIF', 'WEBP', 'BMP', 'TIFF']")]
    rng = random.Random(1)
    for i in range(20):
        img = picture(i)
        f = rng.uniform(0.7, 0.9)
        cw, ch = round(img.width * f), round(img.height * f)
        x, y = rng.randrange(img.width - cw), rng.randrange(img.height - ch)
        query = img.crop((x, y, x + cw, y + ch)).filter(ImageFilter.GaussianBlur(1.5)).resize((cw // 3, ch // 3))
        top = image_index.search(query, 2)
        assert top[0].title == f"Page {i}" or (i == 0 and top[0].title == "Another page")


def test_image_hits_expand_to_every_page_and_dedupe(image_index: ImageIndex) -> None:
    hits = image_index.search(picture(0), 3)
    assert [h.title for h in hits[:2]] == ["Page 0", "Another page"]
    assert hits[0].score == hits[1].score
    assert hits[0].image_sha256 == hits[1].image_sha256
    assert len({h.url for h in image_index.search(picture(3), 30)}) == 21


class MeanColour:
    """A toy image model for the embedding hook: the normalised mean RGB."""

    name = "mean-colour"

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        vecs = np.array([np.asarray(im.convert("RGB"), np.float32).mean(axis=(0, 1)) + 1 for im in images])
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def test_embedding_hook_and_save_load(tmp_path: Path, image_index: ImageIndex) -> None:
    with_model = ImageIndex.build(entries(5), embedder=MeanColour())
    assert with_model.fingerprint.endswith(":mean-colour")
    assert with_model.search(picture(4), 1)[0].title == "Page 4"
    image_index.save(tmp_path / "img")
    again = ImageIndex.load(tmp_path / "img")
    assert again.fingerprint == image_index.fingerprint
    assert again.search(picture(7), 5) == image_index.search(picture(7), 5)
    with_model.save(tmp_path / "emb")
    assert ImageIndex.load(tmp_path / "emb", embedder=MeanColour()).search(picture(2), 3) == \
        with_model.search(picture(2), 3)


def test_crop_windows_cover_the_image() -> None:
    boxes = crop_windows(100, 50)
    assert len(boxes) == 37
    assert boxes[0] == (0, 0, 100, 50)
    assert all(0 <= x0 < x1 <= 100 and 0 <= y0 < y1 <= 50 for x0, y0, x1, y1 in boxes)
    assert multi_crop_hashes(picture(0)).dtype == np.uint64
    assert ImageIndex.build([]).search(picture(0)) == []
