"""Builders for test inputs: MediaWiki XML dumps, media folders, images, configs."""

from __future__ import annotations

import bz2
import io
import json
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image

from schemas.run_config import IngestConfig, SamplingConfig, SourceConfig

SITEINFO = """  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>enwiki</dbname>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="6" case="first-letter">File</namespace>
      <namespace key="10" case="first-letter">Template</namespace>
      <namespace key="14" case="first-letter">Category</namespace>
    </namespaces>
  </siteinfo>
"""


def page_xml(title: str, text: str = "", *, page_id: int = 1, ns: int = 0, redirect: str | None = None) -> str:
    red = f'    <redirect title="{escape(redirect)}" />\n' if redirect else ""
    return (f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n{red}"
            f"    <revision>\n      <id>{page_id * 10}</id>\n      <timestamp>2016-01-01T00:00:00Z</timestamp>\n"
            f'      <text xml:space="preserve">{escape(text)}</text>\n    </revision>\n  </page>\n')


def dump_bytes(pages: list[str]) -> bytes:
    head = '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">\n'
    return (head + SITEINFO + "".join(pages) + "</mediawiki>\n").encode("utf-8")


def write_dump(path: Path, pages: list[str]) -> Path:
    data = dump_bytes(pages)
    path.write_bytes(bz2.compress(data) if path.suffix == ".bz2" else data)
    return path


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def write_media(folder: Path, images: dict[str, bytes], license: str = "Public domain") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (name, data) in enumerate(images.items()):
        (folder / f"img{i}.png").write_bytes(data)
        lines.append(json.dumps({"file_name": name, "path": f"img{i}.png", "license": license,
                                 "author": "test", "source_url": f"https://example.org/{i}"}))
    (folder / "images.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def infobox(kind: str, image: str | None = None, **fields: str) -> str:
    body = "".join(f"| {k} = {v}\n" for k, v in fields.items())
    img = f"| image = {image}\n" if image else ""
    return f"{{{{Infobox {kind}\n{img}{body}}}}}\n"


def small_world(tmp_path: Path) -> tuple[SourceConfig, IngestConfig]:
    """A six-article world with a country seed (flag image), a chain of links and short infoboxes."""
    pages = [
        page_xml("Freedonia", infobox("country", "Flag of Freedonia.svg", capital="[[Fredville]]",
                                      currency="Freedonian dollar")
                 + "'''Freedonia''' is a country. Its capital is [[Fredville]]. It borders [[Sylvania]].",
                 page_id=1),
        page_xml("Fredville", infobox("settlement", mayor="[[Rufus T. Firefly]]", founded="1901")
                 + "'''Fredville''' is the capital of [[Freedonia]]. The mayor is [[Rufus T. Firefly]].",
                 page_id=2),
        page_xml("Rufus T. Firefly", infobox("officeholder", birth_date="{{birth date|1890|10|2}}",
                                             party="Freedom Party")
                 + "'''Rufus T. Firefly''' is mayor of [[Fredville]]. He was born in [[Sylvania]].", page_id=3),
        page_xml("Sylvania", infobox("country", capital="Sylvan City", currency="Sylvanian mark")
                 + "'''Sylvania''' borders [[Freedonia]]. Its ruler admired [[Rufus T. Firefly]].", page_id=4),
        page_xml("List of Freedonians", "A list: [[Rufus T. Firefly]], [[Freedonia]].", page_id=5),
        page_xml("Firefly", "", page_id=6, redirect="Rufus T. Firefly"),
    ]
    dump = write_dump(tmp_path / "small.xml.bz2", pages)
    media = write_media(tmp_path / "media", {"Flag of Freedonia.svg": png_bytes(768, 512)})
    src = SourceConfig(kind="xml", path=dump, media_dir=media)
    return src, IngestConfig(sources=[src], batch_pages=2)


def small_sampling(**over: object) -> SamplingConfig:
    base: dict[str, object] = {"seed_min_in_degree": 0, "seed_min_image_side": 512}
    base.update(over)
    return SamplingConfig.model_validate(base)
