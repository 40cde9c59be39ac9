"""Decontamination: question n-gram overlap (with near misses and template phrasing) and image matches."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from schemas.pool import DecontamConfig
from tasks.pool.decontam import (
    BenchmarkRef,
    Decontaminator,
    ImageIndex,
    QuestionIndex,
    content_hash,
    fingerprint,
    tokens,
)
from toolenv.backends.image_features import gray_array, phash

BENCH_Q = "In which year did the architect of the building shown in this image complete his first commission abroad?"


def encode(img: Image.Image, fmt: str = "PNG", **kw: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def photo(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 200 / w, yy * 200 / h, (xx + yy) * 100 / (w + h)], axis=2) + rng.normal(0, 8, (h, w, 3))
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(15):
        x, y = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        draw.ellipse((x, y, x + int(rng.integers(15, 90)), y + int(rng.integers(15, 90))),
                     fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return img


def flag(colours: tuple[tuple[int, int, int], ...], size: tuple[int, int] = (600, 400)) -> Image.Image:
    """A flat, symmetric graphic (vertical stripes), the hard case for a pHash."""
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    stripe = size[0] // len(colours)
    for i, c in enumerate(colours):
        draw.rectangle((i * stripe, 0, (i + 1) * stripe, size[1]), fill=c)
    return img


def question_index(*questions: str, template_df: int = 10) -> QuestionIndex:
    index = QuestionIndex(8, 0.5, template_df)
    for i, q in enumerate(questions):
        index.add(BenchmarkRef("simplevqa", f"q{i}", q))
    return index


def test_tokens_fold_case_accents_and_punctuation() -> None:
    assert tokens("Où est le Café-Crème?  ÉTÉ 1999!") == ["ou", "est", "le", "cafe", "creme", "ete", "1999"]


def test_ngram_overlap_matches_and_records_the_benchmark_question() -> None:
    index = question_index("What colour is the bus?", BENCH_Q)
    rewritten = "in which year did the ARCHITECT of the building shown in this image complete his first commission?"
    m = index.match(rewritten)
    assert m is not None and m.kind == "question_overlap"
    assert (m.ref.benchmark, m.ref.ref_id, m.ref.text) == ("simplevqa", "q1", BENCH_Q)
    assert 0.5 <= m.distance <= 1.0 and "8-grams" in m.detail


def test_near_misses_do_not_match() -> None:
    index = question_index(BENCH_Q)
    # seven shared consecutive words: below one 8-gram
    assert index.match("Tell me: in which year did the architect of the bridge die and where was he buried?") is None
    # one shared 8-gram out of many: overlap far below half
    long_q = ("Which river flows past the city where the architect of the building shown in this image was born "
              "and what is the length of that river in kilometres according to the official survey?")
    assert index.match(long_q) is None
    # questions shorter than n words are never text-matched (the image check still applies)
    assert question_index("What is the capital of the country?").match("What is the capital of the country?") is None


def test_template_ngrams_do_not_count() -> None:
    template = "What is the country of origin of this aircraft manufactured by {}?"
    makers = [f"maker{i}" for i in range(12)]
    index = question_index(*(template.format(m) for m in makers), template_df=10)
    assert index.match(template.format("Sukhoi")) is None          # same template, different item
    m = index.match(template.format("maker3"))                    # the n-gram naming the entity counts
    assert m is not None and m.ref.ref_id == "q3" and "maker3" in m.detail
    specific = question_index(*(template.format(m) for m in makers),
                              "Which engine powers the aircraft that first flew over the Zugspitze in 1931?")
    m = specific.match("which engine powers the aircraft that first flew over the zugspitze in 1931")
    assert m is not None and m.ref.ref_id == "q12"


def test_content_hash_is_toolenv_phash_and_flat_images_have_none() -> None:
    img = photo(1)
    assert content_hash(gray_array(img)) == int(phash(gray_array(img)))
    assert content_hash(gray_array(Image.new("RGB", (100, 100), (40, 90, 200)))) is None
    assert fingerprint(encode(Image.new("RGB", (100, 100), (9, 9, 9))), crops=True).hashes == ()


def image_index(*images: Image.Image, crops: bool = True) -> ImageIndex:
    index = ImageIndex(6, 8.0)
    for i, img in enumerate(images):
        index.add(BenchmarkRef("infoseek", f"img{i}", f"images/{i}.jpg"), fingerprint(encode(img), crops=crops))
    return index


def test_phash_matches_a_reencoded_resized_copy_and_not_a_different_photo() -> None:
    index = image_index(photo(1), photo(2))
    copy = encode(photo(1).resize((160, 120), Image.Resampling.LANCZOS), "JPEG", quality=70)
    m = index.match(fingerprint(copy, crops=False))
    assert m is not None and m.kind == "image_match" and m.ref.ref_id == "img0"
    assert m.distance <= 6 and m.detail.startswith("pHash")
    for other in (3, 4, 5):
        assert index.match(fingerprint(encode(photo(other)), crops=False)) is None


def test_a_crop_of_a_benchmark_image_matches_through_the_crop_hashes() -> None:
    crop = photo(1).crop((32, 24, 320, 240))      # 90 % window at the bottom-right
    assert image_index(photo(1)).match(fingerprint(encode(crop), crops=False)) is not None
    assert image_index(photo(1), crops=False).match(fingerprint(encode(crop), crops=False)) is None


def test_flat_graphics_match_by_thumbnail_but_distinct_flags_do_not() -> None:
    tricolour = flag(((0, 85, 164), (255, 255, 255), (239, 65, 53)))
    index = image_index(tricolour, flag(((0, 0, 0), (253, 218, 36), (239, 51, 64))))
    copy = encode(tricolour.resize((300, 200), Image.Resampling.LANCZOS), "JPEG", quality=60)
    m = index.match(fingerprint(copy, crops=False))
    assert m is not None and m.ref.ref_id == "img0"
    italy = flag(((0, 146, 70), (255, 255, 255), (206, 43, 55)))        # same layout, other colours
    assert index.match(fingerprint(encode(italy), crops=False)) is None


def text_page(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    page = Image.new("RGB", (400, 560), (250, 250, 245))
    draw = ImageDraw.Draw(page)
    for line in range(30):
        x = 30
        while x < 360:
            w = int(rng.integers(10, 50))
            draw.rectangle((x, 30 + line * 17, x + w, 38 + line * 17), fill=(20, 20, 20))
            x += w + 8
    return page


def test_low_contrast_thumbnails_do_not_match_each_other() -> None:
    """Text pages and noise all look alike at 8×8; only their pHash may match them."""
    noise = [Image.fromarray(np.random.default_rng(s).integers(0, 256, (120, 160, 3), dtype=np.uint8)) for s in (1, 2)]
    index = image_index(text_page(1), noise[0])
    assert index.match(fingerprint(encode(text_page(2)), crops=False)) is None
    assert index.match(fingerprint(encode(noise[1]), crops=False)) is None
    same = index.match(fingerprint(encode(text_page(1), "JPEG", quality=90), crops=False))
    assert same is not None and same.ref.ref_id == "img0"


def test_transparent_pixels_are_composited_on_white() -> None:
    rgba = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((50, 20, 150, 80), fill=(200, 0, 0, 255))
    flattened = Image.new("RGB", (200, 100), (255, 255, 255))
    ImageDraw.Draw(flattened).rectangle((50, 20, 150, 80), fill=(200, 0, 0))
    assert np.array_equal(fingerprint(encode(rgba), crops=False).thumb,
                          fingerprint(encode(flattened), crops=False).thumb)


def test_decontaminator_checks_question_then_image() -> None:
    dec = Decontaminator.empty(DecontamConfig())
    dec.questions.add(BenchmarkRef("b", "q0", BENCH_Q))
    dec.images.add(BenchmarkRef("b", "i0", "x.jpg"), fingerprint(encode(photo(1)), crops=True))
    same_image = fingerprint(encode(photo(1)), crops=False)
    hit = dec.check(BENCH_Q, same_image)
    assert hit is not None and hit.kind == "question_overlap"
    hit = dec.check("an unrelated question about something else entirely here", same_image)
    assert hit is not None and hit.kind == "image_match"
    assert dec.check("an unrelated question about something else entirely here", None) is None
