"""``split_template`` (the infobox parameter splitter ingest uses instead of building mwparserfromhell's tree):
hand-written edge cases, and equality with mwparserfromhell's ``Template.params`` on every template of every
main-namespace page of the real fixture dumps."""

from __future__ import annotations

from pathlib import Path

import mwparserfromhell
import pytest

from tasks.ingest.wikitext import Namespaces, _lead_text, split_template
from tasks.ingest.xml_dump import RawPage, SiteInfo, iter_dump

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("block", "name", "params"), [
    ("{{X}}", "X", []),
    ("{{X|a|b}}", "X", [("1", "a"), ("2", "b")]),
    ("{{Infobox country\n| capital = [[Luanda|the capital]]\n| x = y = z\n}}", "Infobox country\n",
     [("capital", " [[Luanda|the capital]]\n"), ("x", " y = z\n")]),
    ("{{X|a={{Y|b=c|d}}|e}}", "X", [("a", "{{Y|b=c|d}}"), ("1", "e")]),
    ("{{X|a=<ref>p|q=r</ref>|b=<ref name=\"s\" />t}}", "X", [("a", "<ref>p|q=r</ref>"), ("b", "<ref name=\"s\" />t")]),
    ("{{X|a<!-- c|d=e -->=f}}", "X", [("a<!-- c|d=e -->", "f")]),
    ("{{X|<span style=\"c\">t</span>}}", "X", [("1", "<span style=\"c\">t</span>")]),
    ("{{X|''a=b''|'''c'''=d}}", "X", [("1", "''a=b''"), ("'''c'''", "d")]),
    ("{{X|it's=fine|b=c's}}", "X", [("it's", "fine"), ("b", "c's")]),
    ("{{X|a=[[File:F.jpg|thumb|cap]]|b}}", "X", [("a", "[[File:F.jpg|thumb|cap]]"), ("1", "b")]),
])
def test_split_template_cases(block: str, name: str, params: list[tuple[str, str]]) -> None:
    assert split_template(block) == (name, params)
    tpl = mwparserfromhell.parse(block).filter_templates(recursive=False)[0]
    assert [(str(p.name).strip(), str(p.value)) for p in tpl.params] == params


def _article_pages(shared_data: Path) -> list[tuple[SiteInfo, RawPage]]:
    files = [*sorted((shared_data / "wikitext").glob("*.xml.bz2")), ROOT / "corpus" / "enwiki-sample" / "pages.xml.bz2"]
    out = []
    for f in files:
        site = None
        for item in iter_dump(f):
            if isinstance(item, SiteInfo):
                site = item
            elif item.namespace == 0 and site is not None:
                out.append((site, item))
    return out


@pytest.mark.data
def test_split_template_equals_mwparserfromhell_on_fixture_dumps(shared_data: Path) -> None:
    checked = 0
    for _site, page in _article_pages(shared_data):
        for tpl in mwparserfromhell.parse(page.text).filter_templates(recursive=True):
            expected = (str(tpl.name), [(str(p.name).strip(), str(p.value)) for p in tpl.params])
            assert split_template(str(tpl)) == expected, (page.title, str(tpl)[:200])
            checked += 1
    assert checked > 10_000


@pytest.mark.data
def test_lead_text_link_shortcut_changes_nothing(shared_data: Path) -> None:
    """The lead's plain links are replaced by their text before mwparserfromhell runs; the text must be what
    parsing every link gives, on every fixture article."""
    checked = 0
    for site, page in _article_pages(shared_data):
        ns = Namespaces(site.namespaces)
        lead = page.text.split("\n==", 1)[0]
        assert _lead_text(lead, ns) == _lead_text(lead, ns, link_shortcut=False), page.title
        checked += "[[" in lead
    assert checked > 300
