"""Wikitext → PageRecord on hand-written snippets."""

from __future__ import annotations

import pytest

from schemas.pages import PageRecord, PageReject
from tasks.ingest.wikitext import Namespaces, normalise_title, parse_page, printable_title, quick_clean, title_problem

NS = Namespaces.english()


def parse(text: str, title: str = "Testland", **kw: object) -> PageRecord:
    rec = parse_page("enwiki", title, 0, text, NS, **kw)  # type: ignore[arg-type]
    assert isinstance(rec, PageRecord), rec
    return rec


COUNTRY = """{{Infobox country
| conventional_long_name = Republic of Testland
| common_name = Testland
| image_flag = Flag of Testland.svg
| capital = [[Test City]]
| founded = {{start date|1901|1|1}}
| currency = [[Test dollar]] <ref>a source</ref>
}}
'''Testland''', officially the '''Republic of Testland''', is a country in [[Europe|western Europe]].
Its capital is [[Test City]]. [[File:Test coast.jpg|thumb|The coast of Testland]]

== History ==
Testland joined the [[Test Union]] in 1950. [[de:Testland]] [[Category:Countries]]
"""


def test_infobox_fields_templates_and_refs_are_cleaned() -> None:
    rec = parse(COUNTRY)
    assert rec.infobox_type == "infobox country"
    assert rec.infobox["capital"] == "Test City"
    assert rec.infobox["founded"] == "1 January 1901"
    assert rec.infobox["currency"] == "Test dollar"


def test_links_carry_anchor_sentence_and_infobox_key() -> None:
    rec = parse(COUNTRY)
    targets = [(link.target, link.anchor_text, link.infobox_key) for link in rec.links]
    assert ("Test City", "Test City", "capital") in targets
    assert ("Europe", "western Europe", None) in targets
    body = next(link for link in rec.links if link.target == "Test Union")
    assert "joined the Test Union in 1950" in body.sentence
    assert all(link.target not in ("De:Testland", "Category:Countries") for link in rec.links)


def test_images_infobox_first_then_body_with_caption() -> None:
    rec = parse(COUNTRY)
    assert rec.images[0].file_name == "Flag of Testland.svg"
    assert rec.images[0].role == "infobox"
    body = [i for i in rec.images if i.role == "body"]
    assert body[0].file_name == "Test coast.jpg"
    assert body[0].caption == "The coast of Testland"


def test_lead_text_and_aliases() -> None:
    rec = parse(COUNTRY)
    assert rec.lead_text.startswith("Testland, officially the Republic of Testland, is a country in western Europe.")
    assert "History" not in rec.lead_text and "a source" not in rec.lead_text
    assert ("Republic of Testland", "bold_lead") in rec.aliases
    assert ("Republic of Testland", "infobox_name") in rec.aliases


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("Mercury (disambiguation)", "'''Mercury''' may refer to:", True),
        ("Mercury", "'''Mercury''' may refer to: ...\n{{disambiguation}}", True),
        ("Mercury", "{{Disambig|geo}}", True),
        ("Mercury (planet)", "'''Mercury''' is a planet.", False),
    ],
)
def test_disambiguation_detection(title: str, text: str, expected: bool) -> None:
    assert parse(text, title).is_disambiguation is expected


def test_redirects_from_element_and_from_text() -> None:
    assert parse("", "Old", redirect="new_name#Section").redirect_target == "New name"
    assert parse("#REDIRECT [[target page]]", "Old").redirect_target == "Target page"


@pytest.mark.parametrize(
    ("title", "reason"),
    [("Bad \ufffd title", "invalid_title"), ("Ctrl\x07title", "invalid_title")],
)
def test_bad_titles_become_rejects(title: str, reason: str) -> None:
    rec = parse_page("enwiki", title, 0, "text", NS)
    assert isinstance(rec, PageReject)
    assert rec.reason == reason


def test_broken_template_markup_becomes_reject() -> None:
    rec = parse_page("enwiki", "Broken", 0, "{{Infobox person\n| name = X\n| born = {{birth date|1900|1|1}\n", NS)
    assert isinstance(rec, PageReject)
    assert rec.reason == "broken_template"
    assert "unclosed template" in rec.detail


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("{{convert|100|km|mi}}", "100 km"),
        ("{{plainlist|\n* [[A]]\n* [[B|Bee]]}}", "A, Bee"),
        ("{{nowrap|6&nbsp;days}}", "6 days"),
        ("a<br/>b", "a, b"),
        ("{{birth date and age|1950|5|3|df=y}}", "3 May 1950"),
        ("'''bold''' and ''italic''", "bold and italic"),
    ],
)
def test_quick_clean(raw: str, clean: str) -> None:
    assert quick_clean(raw) == clean


@pytest.mark.parametrize(("raw", "norm"), [("foo_bar", "Foo bar"), ("  a   b ", "A b"), ("éclair", "Éclair")])
def test_normalise_title(raw: str, norm: str) -> None:
    assert normalise_title(raw) == norm


@pytest.mark.parametrize(("title", "needle"), [
    ("Bad \x07 bell", "control character U+0007 at position 4"),
    ("Bad \x7f", "control character U+007F"),
    ("Bad \x85", "control character U+0085"),
    ("Bad \ud800 half", "lone surrogate U+D800"),
    ("Bad \ue000", "private-use character U+E000"),
    ("Bad \ufffd", "invalid UTF-8"),
    ("A [[b]]", "MediaWiki forbids"),
    ("   ", "empty title"),
    ("é" * 200, "400 UTF-8 bytes"),
])
def test_title_problem_names_the_bad_character(title: str, needle: str) -> None:
    problem = title_problem(title)
    assert problem is not None and needle in problem
    rej = parse_page("enwiki", title, 0, "Text.", Namespaces.english())
    assert isinstance(rej, PageReject) and rej.reason == "invalid_title"
    rej.title.encode("utf-8")   # printable: a lone surrogate never reaches the warehouse


@pytest.mark.parametrize("title", ["Ray Charles", "Zürich", "Ахмед", "C++ (programming language)", "AT&T",
                                   "Persian\u200cword", "\u05e2\u05d1\u05e8\u05d9\u05ea"])
def test_real_titles_have_no_problem(title: str) -> None:
    assert title_problem(title) is None


def test_printable_title_escapes_and_caps() -> None:
    assert printable_title("a\x07b\ud800") == "a\\u0007b\\ud800"
    assert printable_title("x" * 400).endswith("…") and len(printable_title("x" * 400)) == 301


def test_template_nesting_bomb_is_a_broken_template() -> None:
    text = "{{Infobox x\n| a = " + "{{" * 500 + "}}" * 500 + "\n}}\nBody [[Link]]."
    rej = parse_page("enwiki", "T", 0, text, Namespaces.english())
    assert isinstance(rej, PageReject) and rej.reason == "broken_template" and "nested more than 100" in rej.detail
