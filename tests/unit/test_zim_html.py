"""Rendered article HTML (as Kiwix ZIMs store it) → PageRecord, on hand-written snippets."""

from __future__ import annotations

import pytest

from schemas.pages import PageRecord
from tasks.ingest.zim import ParsedArticle, file_name_of, infobox_kind, parse_article, sentence_at, zim_path

ENTRIES = {  # ZIM path → entry title; "Raelettes" is a redirect entry, its title is kept as the surface target
    "A/Ray_Charles.html": "Ray Charles",
    "A/Raelettes.html": "Raelettes",
    "A/Quincy_Jones.html": "Quincy Jones",
    'A/David_"Fathead"_Newman.html': 'David "Fathead" Newman',
    "A/Genius_&_Friends.html": "Genius & Friends",
    "A/AC/DC.html": "AC/DC",
    "A/Hit_the_Road_Jack.html": "Hit the Road Jack",
    "A/Georgia_on_My_Mind.html": "Georgia on My Mind",
    "A/Atlantic_Records.html": "Atlantic Records",
}

ARTIST = """<html><head><title>Ray Charles</title></head><body><div id="content">
<h1 id="titleHeading">Ray Charles</h1>
<div id="mw-content-text">
<table class="infobox vcard plainlist"><tbody>
<tr><th colspan="2">Ray Charles</th></tr>
<tr><td colspan="2"><p><span><img src="../I/m/Ray_Charles_(cropped).jpg" height="250" width="250"></span></p>
  <div>Ray Charles in 1990</div></td></tr>
<tr><th colspan="2">Background information</th></tr>
<tr><th scope="row">Birth name</th><td class="nickname">Ray Charles Robinson</td></tr>
<tr><th scope="row">Born</th><td><span style="display:none">(<span class="bday">1930-09-23</span>)</span>September 23,
  1930<br>Albany, Georgia, U.S.<sup id="cite_ref-1"><a href="#cite_note-1">[1]</a></sup></td></tr>
<tr><th scope="row">Genres</th><td>R&amp;B, soul, blues</td></tr>
<tr><th scope="row">Associated acts</th><td><a href="Raelettes.html">The Raelettes</a>,
  <a href="Quincy_Jones.html">Quincy Jones</a></td></tr>
</tbody></table>
<div class="hatnote">See also: <a href="Hit_the_Road_Jack.html">Hit the Road Jack</a></div>
<p><b>Ray Charles Robinson</b> (September 23, 1930 – June 10, 2004), known as <b>Ray Charles</b>, was an American
singer.<sup id="cite_ref-2"><a href="#cite_note-2">[2]</a></sup> He signed with
<a href="Atlantic_Records.html" title="Atlantic Records">Atlantic</a> in 1952. He befriended
<a href="David_%22Fathead%22_Newman.html">Fathead Newman</a> early on.</p>
<h2>Career</h2>
<div class="thumb tright"><div class="thumbinner"><img src="../I/m/Ray_Charles_1968.jpg" height="165" width="220">
<div class="thumbcaption">Ray Charles in 1968</div></div></div>
<p>His duets album <a href="Genius_%26_Friends.html#Reception">Genius &amp; Friends</a> came out in 2005.
He never recorded with <a href="AC%2FDC.html">AC/DC</a>. See <a href="http://en.wikipedia.org/wiki/Ray">Ray</a>,
<a href="#cite_note-3">[3]</a> and <a href="../I/m/Ray_Charles_1968.jpg">a photo</a>.</p>
<ol class="references"><li><a href="Quincy_Jones.html">Quincy Jones</a> interview.</li></ol>
<table class="mbox-small sistersitebox"><tr><td><img src="../I/m/Commons-logo.svg.png" height="40" width="30">
</td></tr></table>
<table class="navbox"><tr><td><a href="Georgia_on_My_Mind.html">Georgia on My Mind</a>
<a href="Hit_the_Road_Jack.html">Hit the Road Jack</a></td></tr></table>
</div></div></body></html>"""


def parse(html: str, title: str = "Ray Charles") -> ParsedArticle:
    return parse_article("enwiki", title, f"A/{title.replace(' ', '_')}.html", html, ENTRIES.get)


def record(html: str, title: str = "Ray Charles") -> PageRecord:
    return parse(html, title).record


def test_infobox_keys_values_type_and_name() -> None:
    rec = record(ARTIST)
    assert rec.infobox_type == "infobox musical artist"
    assert rec.infobox["birth name"] == "Ray Charles Robinson"
    assert rec.infobox["born"] == "September 23, 1930, Albany, Georgia, U.S.", "hidden spans and refs dropped"
    assert rec.infobox["genres"] == "R&B, soul, blues"
    assert rec.infobox["name"] == "Ray Charles"
    assert "background information" not in rec.infobox


def test_infobox_links_carry_their_row_key() -> None:
    box = [link for link in record(ARTIST).links if link.infobox_key]
    assert [(link.target, link.anchor_text, link.infobox_key) for link in box] == [
        ("Raelettes", "The Raelettes", "associated acts"), ("Quincy Jones", "Quincy Jones", "associated acts")]
    assert box[0].sentence == "associated acts: The Raelettes, Quincy Jones"


def test_navbox_hatnote_and_reference_links_are_not_edges() -> None:
    body = [link.target for link in record(ARTIST).links if link.infobox_key is None]
    assert body == ["Atlantic Records", 'David "Fathead" Newman', "Genius & Friends", "AC/DC"]


def test_body_link_has_anchor_text_and_its_own_sentence() -> None:
    atlantic = next(link for link in record(ARTIST).links if link.target == "Atlantic Records")
    assert atlantic.anchor_text == "Atlantic"
    assert atlantic.sentence == "He signed with Atlantic in 1952."


def test_lead_text_and_bold_aliases() -> None:
    rec = record(ARTIST)
    assert rec.lead_text.startswith("Ray Charles Robinson (September 23, 1930 – June 10, 2004), known as")
    assert "[2]" not in rec.lead_text and "Career" not in rec.lead_text and "duets" not in rec.lead_text
    assert ("Ray Charles Robinson", "bold_lead") in rec.aliases
    assert ("Ray Charles", "bold_lead") in rec.aliases
    assert ("Ray Charles Robinson", "infobox_name") in rec.aliases


def test_images_infobox_first_with_caption_icons_skipped() -> None:
    parsed = parse(ARTIST)
    refs = [(i.file_name, i.role, i.caption) for i in parsed.record.images]
    assert refs == [("Ray Charles (cropped).jpg", "infobox", "Ray Charles in 1990"),
                    ("Ray Charles 1968.jpg", "body", "Ray Charles in 1968")]
    assert parsed.image_paths["Ray Charles (cropped).jpg"] == "I/m/Ray_Charles_(cropped).jpg"


@pytest.mark.parametrize(("base", "href", "expected"), [
    ("A/Ray_Charles.html", "Quincy_Jones.html", "A/Quincy_Jones.html"),
    ("A/Ray_Charles.html", "David_%22Fathead%22_Newman.html#Career", 'A/David_"Fathead"_Newman.html'),
    ("A/Ray_Charles.html", "Genius_%26_Friends.html", "A/Genius_&_Friends.html"),
    ("A/Ray_Charles.html", "AC%2FDC.html", "A/AC/DC.html"),
    ("A/Ray_Charles.html", "../I/m/Ray_Charles_1968.jpg", "I/m/Ray_Charles_1968.jpg"),
    ("A/Ray_Charles.html", "../../etc/passwd", None),
    ("A/Ray_Charles.html", "#cite_note-1", None),
    ("A/Ray_Charles.html", "http://en.wikipedia.org/wiki/Ray", None),
    ("A/Ray_Charles.html", "//commons.wikimedia.org/wiki/X", None),
    ("A/Ray_Charles.html", "", None),
])
def test_relative_hrefs_resolve_to_decoded_zim_paths(base: str, href: str, expected: str | None) -> None:
    assert zim_path(base, href) == expected


def test_links_to_unknown_or_non_article_entries_are_dropped() -> None:
    html = ('<div id="mw-content-text"><p>See <a href="Nowhere.html">nowhere</a>, '
            '<a href="../-/s/style.css">css</a> and <a href="Quincy_Jones.html">Q</a>.</p></div>')
    assert [link.target for link in record(html, "Test").links] == ["Quincy Jones"]


def test_file_names_match_the_wiki() -> None:
    assert file_name_of("I/m/Ray_Charles_(cropped).jpg") == "Ray Charles (cropped).jpg"
    assert file_name_of("I/m/Flag_of_the_United_States.svg.png") == "Flag of the United States.svg"


def test_disambiguation_by_box_or_title() -> None:
    box = '<div id="mw-content-text"><p>Ray may refer to:</p><table id="disambigbox" class="metadata"></table></div>'
    assert record(box, "Ray").is_disambiguation
    assert record("<p>Ray may refer to:</p>", "Ray (disambiguation)").is_disambiguation
    assert not record(ARTIST).is_disambiguation


def test_infobox_kind_from_shape() -> None:
    assert infobox_kind({"infobox", "vevent"}, ["Single by Ray Charles", "from the album Crying Time"],
                        {"released"}) == "infobox single"
    assert infobox_kind({"infobox", "vevent", "haudio"}, ["Studio album by Ray Charles"], {"released"}) \
        == "infobox album"
    assert infobox_kind({"infobox", "vevent"}, [], {"directed by", "starring"}) == "infobox film"
    assert infobox_kind({"infobox"}, ["Releases"], {"studio albums"}) == "infobox"


def test_nested_chronology_rows_do_not_become_fields() -> None:
    html = """<div id="mw-content-text"><table class="infobox vevent haudio"><tbody>
    <tr><th colspan="2">Genius &amp; Friends</th></tr>
    <tr><th scope="row">Label</th><td><a href="Atlantic_Records.html">Atlantic</a></td></tr>
    <tr><td colspan="2"><table><tbody><tr><th>Prev</th><td><a href="Quincy_Jones.html">Quincy</a> (2004)</td></tr>
    </tbody></table></td></tr></tbody></table><p><b>Genius &amp; Friends</b> is an album.</p></div>"""
    rec = record(html, "Genius & Friends")
    assert rec.infobox == {"label": "Atlantic", "name": "Genius & Friends"}
    assert [(link.target, link.infobox_key) for link in rec.links] == [("Atlantic Records", "label"),
                                                                         ("Quincy Jones", None)]


def test_long_sentence_is_capped_around_the_link() -> None:
    text = "word " * 200 + "LINK" + " tail" * 200
    start = text.index("LINK")
    s = sentence_at(text, start, start + 4)
    assert "LINK" in s and len(s) <= 400 and not s.startswith("ord")
