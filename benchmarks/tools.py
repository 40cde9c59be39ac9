"""Tool environment: per-tool latency (p50/p95), text-search throughput and image-search recall@5.

Corpus: the Ray Charles ZIM in ../shared/data (85 articles, their images). Text index = article text;
image index = every raster image an article shows. Recall query for each content image (both sides
≥ 50 px): central 80 % crop → Gaussian blur σ∈[1, 2] → downscale ×1/2…×1/4 (seeded); a hit is any of
the image's pages in the top 5.
Baseline for recall (the named alternative): a single whole-image 64-bit pHash, nearest by Hamming.
The JSON line reports recall@5 (ours vs that baseline; target: ratio ≥ 1 and ``recall_meets`` = recall
≥ 0.9). Latencies are wall-clock per call through ``ToolEnv.call`` (validation, registry, PNG encode
included), rapidocr single-threaded engine warm. Also: ``super_resolution``'s fallback upscaler vs OpenCV
bicubic, mean PSNR on the content images downscaled ×4 (``superres_psnr_db``).

Usage: python -m benchmarks.tools [--calls N]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np
from libzim.reader import Archive
from PIL import Image, ImageFilter
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from benchmarks._common import emit, fixture
from toolenv import Document, EnvConfig, EpisodeItem, ImageEntry, ImageIndex, RapidOcrEngine, TextIndex, ToolEnv
from toolenv.backends.image_features import gray_array, hamming, phash
from toolenv.images import to_rgb
from toolenv.tools.superres import lanczos_unsharp

ZIM = "zim/wikipedia_en_ray_charles_2015-06.zim"
WIKI = "https://en.wikipedia.org/wiki/"
MIN_SIDE = 50


@dataclass(frozen=True)
class ZimImage:
    path: str
    data: bytes
    image: Image.Image
    pages: tuple[str, ...]        # titles of the articles showing it
    sha256: str


@dataclass(frozen=True)
class ZimCorpus:
    documents: list[Document]
    entries: list[ImageEntry]
    images: list[ZimImage]

    def content_images(self) -> list[ZimImage]:
        return [im for im in self.images if min(im.image.size) >= MIN_SIDE]


def _caption(img: Node) -> str:
    node = img.parent
    for _ in range(4):
        if node is None:
            return ""
        for div in node.css("div"):
            text = " ".join(div.text(deep=True).split())
            if text and not div.css("img"):
                return text[:200]
        node = node.parent
    return ""


def load_zim(path: Path) -> ZimCorpus:
    """Articles (text without navboxes/references) and the raster images each one shows."""
    import hashlib

    archive = Archive(str(path))
    manifest = json.loads(path.with_suffix(".manifest.json").read_text())
    docs: list[Document] = []
    shown: dict[str, list[tuple[str, str]]] = {}
    for art in manifest["articles"]:
        tree = HTMLParser(bytes(archive.get_entry_by_path(art["path"]).get_item().content).decode())
        for img in tree.css("img"):
            src = unquote(img.attributes.get("src") or "").replace("../", "", 1)
            if src.startswith("I/"):
                shown.setdefault(src, []).append((art["title"], _caption(img)))
        for junk in tree.css("script, style, table.navbox, sup.reference, ol.references"):
            junk.decompose()
        root = tree.css_first("#mw-content-text") or tree.body
        text = root.text(separator="\n") if root is not None else ""
        docs.append(Document(art["title"], WIKI + art["title"].replace(" ", "_"), "\n".join(
            line.strip() for line in text.splitlines() if line.strip())))
    entries: list[ImageEntry] = []
    images: list[ZimImage] = []
    for src in sorted(shown):
        item = archive.get_entry_by_path(src).get_item()
        if not item.mimetype.startswith("image/") or "svg" in item.mimetype:
            continue
        data = bytes(item.content)
        img = Image.open(io.BytesIO(data))
        img.load()
        sha = hashlib.sha256(data).hexdigest()
        titles = tuple(dict.fromkeys(t for t, _ in shown[src]))
        images.append(ZimImage(src, data, to_rgb(img), titles, sha))
        for title, caption in dict.fromkeys(shown[src]):
            entries.append(ImageEntry(sha, data, title, caption, WIKI + title.replace(" ", "_")))
    return ZimCorpus(docs, entries, images)


def degrade(img: Image.Image, rng: random.Random) -> Image.Image:
    """The recall query: central 80 % crop, Gaussian blur σ∈[1, 2], downscale ×1/2…×1/4."""
    w, h = img.size
    cw, ch = round(w * 0.8), round(h * 0.8)
    x, y = (w - cw) // 2, (h - ch) // 2
    out = img.crop((x, y, x + cw, y + ch)).filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 2.0)))
    factor = rng.uniform(2.0, 4.0)
    return out.resize((max(1, round(cw / factor)), max(1, round(ch / factor))), Image.Resampling.BILINEAR)


def degrade_off_centre(img: Image.Image, rng: random.Random) -> Image.Image:
    """A harder query: a 60–90 % crop anywhere in the image, blur σ∈[1, 2], downscale ×1/2…×1/4."""
    w, h = img.size
    f = rng.uniform(0.6, 0.9)
    cw, ch = round(w * f), round(h * f)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = img.crop((x, y, x + cw, y + ch)).filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 2.0)))
    factor = rng.uniform(2.0, 4.0)
    return out.resize((max(1, round(cw / factor)), max(1, round(ch / factor))), Image.Resampling.BILINEAR)


def recall_at_k(index: ImageIndex, images: list[ZimImage], k: int = 5, seed: int = 0,
                query: Callable[[Image.Image, random.Random], Image.Image] = degrade) -> float:
    rng = random.Random(seed)
    found = 0
    for im in images:
        hits = index.search(query(im.image, rng), top_k=k)
        found += any(h.title in im.pages for h in hits)
    return found / len(images)


def baseline_recall_at_k(images: list[ZimImage], k: int = 5, seed: int = 0) -> float:
    """Single whole-image pHash per indexed image, nearest by Hamming distance (ties: index order)."""
    hashes = np.array([phash(gray_array(im.image)) for im in images], dtype=np.uint64)
    rng = random.Random(seed)
    found = 0
    for im in images:
        d = hamming(hashes, phash(gray_array(degrade(im.image, rng))))
        pages: list[str] = []
        for j in sorted(range(len(images)), key=lambda j: (d[j], j)):
            pages.extend(p for p in images[j].pages if p not in pages)
            if len(pages) >= k:
                break
        found += any(p in im.pages for p in pages[:k])
    return found / len(images)


def psnr(truth: np.ndarray, guess: np.ndarray) -> float:
    mse = float(np.mean((truth.astype(np.float64) - guess.astype(np.float64)) ** 2))
    return float(10 * np.log10(255.0**2 / mse))


def superres_psnr(images: list[ZimImage], scale: int = 4) -> tuple[float, float, float, int]:
    """Each image with both sides ≥ 100 px, downscaled ×1/scale (area), upscaled back by the
    ``super_resolution`` fallback and by OpenCV bicubic: mean PSNR of each against the original, the share
    of images where ours is higher, and the number of images."""
    ours, bicubic = [], []
    for im in images:
        if min(im.image.size) < 100:
            continue
        w, h = im.image.width // scale * scale, im.image.height // scale * scale
        truth = np.asarray(im.image.crop((0, 0, w, h)))
        low = cv2.resize(truth, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
        ours.append(psnr(truth, np.asarray(lanczos_unsharp(Image.fromarray(low), scale))))
        bicubic.append(psnr(truth, cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)))
    wins = float(np.mean(np.array(ours) > np.array(bicubic)))
    return float(np.mean(ours)), float(np.mean(bicubic)), wins, len(ours)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30, help="calls per tool (OCR: a third of it)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    corpus = load_zim(fixture(ZIM))
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    text_index = TextIndex.from_documents(corpus.documents)
    t_text = time.perf_counter() - t0
    t0 = time.perf_counter()
    image_index = ImageIndex.build(corpus.entries)
    t_img = time.perf_counter() - t0
    print(f"corpus: {len(corpus.documents)} articles, {len(corpus.images)} images ({len(corpus.entries)} "
          f"image-page pairs); load {t_load:.2f}s, text index {t_text:.2f}s, image index {t_img:.2f}s")

    env = ToolEnv.build(EnvConfig(max_turns=10_000, max_consecutive_errors=10_000, tool_timeout_s=None,
                                  leakage_guard=False),
                        text_search=text_index, image_search=image_index, ocr=RapidOcrEngine(threads=1))
    content = corpus.content_images()
    rng = random.Random(0)
    titles = [d.title for d in corpus.documents]
    plans = {
        "crop": lambda im: {"image": "img_1", "x": im.width // 4, "y": im.height // 4, "width": im.width // 2,
                            "height": im.height // 2},
        "sharpen": lambda im: {"image": "img_1"},
        "super_resolution": lambda im: {"image": "img_1"},
        "perspective_correct": lambda im: {"image": "img_1"},
        "layout_parsing": lambda im: {"image": "img_1"},
        "image_search": lambda im: {"image": "img_1"},
        "text_search": lambda im: {"q": f"{rng.choice(titles)} released album year"},
    }
    rows = []
    for tool, plan in plans.items():
        n = max(3, args.calls // 3) if tool == "layout_parsing" else args.calls
        times = []
        for i in range(n + 1):
            im = content[i % len(content)]
            env.reset(EpisodeItem("benchmark", (im.data,)))
            obs = env.call(tool, plan(im.image))
            if obs.error:
                raise SystemExit(f"{tool} failed: {obs.content}")
            if i:  # the first call warms caches and lazy engines
                times.append(obs.elapsed_ms)
        rows.append((tool, n, _pct(times, 50), _pct(times, 95)))
    print(f"{'tool':22s} {'calls':>5s} {'p50 ms':>9s} {'p95 ms':>9s}")
    for tool, n, p50, p95 in rows:
        print(f"{tool:22s} {n:5d} {p50:9.2f} {p95:9.2f}")

    queries = [f"{t} {w}" for t in titles for w in ("born", "album", "released")]
    t0 = time.perf_counter()
    for q in queries:
        text_index.search(q, top_k=5)
    qps = len(queries) / (time.perf_counter() - t0)
    print(f"text_search backend: {qps:.0f} queries/s ({len(queries)} queries, top_k=5, {len(text_index)} docs)")

    ours = recall_at_k(image_index, content)
    base = baseline_recall_at_k(content)
    hard = recall_at_k(image_index, content, query=degrade_off_centre)
    top1 = recall_at_k(image_index, content, k=1)
    print(f"image_search recall@5 over {len(content)} content images (crop 80% + blur + ×1/2–1/4): "
          f"ours {ours:.3f} (recall@1 {top1:.3f}), single-pHash baseline {base:.3f}; "
          f"off-centre 60–90% crops: ours {hard:.3f}")
    sr_ours, sr_bicubic, sr_wins, sr_n = superres_psnr(content)
    print(f"super_resolution ×4 fallback (Lanczos + unsharp) vs OpenCV bicubic over {sr_n} images: "
          f"{sr_ours:.2f} dB vs {sr_bicubic:.2f} dB mean PSNR, ours higher on {sr_wins:.0%}")
    emit("image_search_recall_at_5", "recall", ours, base, 1.0, images=len(content), recall_target=0.9,
         recall_meets=ours >= 0.9, recall_at_1=round(top1, 3), recall_at_5_off_centre=round(hard, 3),
         text_search_qps=round(qps, 1),
         superres_psnr_db={"ours": round(sr_ours, 2), "bicubic": round(sr_bicubic, 2), "wins": round(sr_wins, 3),
                           "images": sr_n},
         latency_ms={tool: {"p50": round(p50, 2), "p95": round(p95, 2)} for tool, _, p50, p95 in rows})


if __name__ == "__main__":
    main()
