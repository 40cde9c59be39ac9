"""Regenerate ``tasks/sample/infobox_relations.tsv``: common English infobox keys that hold a link to another
entity, with a relation phrase, from DBpedia's community-reviewed mappings.

Input (``../shared/data/dbpedia``, CC BY-SA 3.0, DBpedia Mappings Wiki contributors): ``Mapping_en.xml.bz2``
(infobox template parameters → ontology properties) and ``ontology.owl.bz2`` (English labels; object vs
datatype properties). A key is kept when it maps to an ``owl:ObjectProperty`` (its value is an entity, not a
date, count or identifier) in at least ``--min-templates`` templates and that property has the majority of its
mappings. The phrase is the property's English label, lower-cased, unless ``REVIEWED`` (below) rewords it.

    .venv/bin/python scripts/build_infobox_relations.py [--dbpedia ../shared/data/dbpedia] [--out …]
"""

from __future__ import annotations

import argparse
import bz2
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWL = "{http://www.w3.org/2002/07/owl#}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RDFS = "{http://www.w3.org/2000/01/rdf-schema#}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_MAPPING = re.compile(r"\{\{\s*PropertyMapping\s*\|\s*templateProperty\s*=\s*([^|}]+?)\s*\|\s*"
                      r"ontologyProperty\s*=\s*([^|}]+?)\s*[|}]", re.IGNORECASE)
_TEMPLATE = re.compile(r"<title>Mapping en:(.*?)</title>")
#: Reviewed wording: an ontology label that reads badly as "the <label> of X" gets a better noun phrase.
#: Keys listed in DROP are entity-valued in DBpedia but make no sense as a question hop.
REVIEWED = {
    "birthPlace": "birthplace", "deathPlace": "place of death", "restingPlace": "resting place",
    "recordLabel": "record label", "previousWork": "previous work", "subsequentWork": "next work",
    "musicalArtist": "performer", "musicalBand": "performer", "associatedMusicalArtist": "associated act",
    "associatedBand": "associated act", "writer": "writer", "musicComposer": "composer", "starring": "star",
    "headquarter": "headquarters", "locatedInArea": "location", "location": "location", "country": "country",
    "nationality": "nationality", "almaMater": "alma mater", "spouse": "spouse", "capital": "capital",
    "largestCity": "largest city", "leaderName": "leader", "party": "political party", "team": "team",
    "distributor": "distributor", "director": "director", "producer": "producer", "author": "author",
    "publisher": "publisher", "designer": "designer", "manufacturer": "manufacturer", "operator": "operator",
    "owner": "owner", "founder": "founder", "architect": "architect", "city": "city", "state": "state",
    "hometown": "hometown", "religion": "religion", "currency": "currency", "language": "language",
    "genre": "genre", "instrument": "instrument", "occupation": "occupation", "influenced": "person influenced",
    "influencedBy": "influence", "successor": "successor", "predecessor": "predecessor", "parent": "parent",
    "child": "child", "relative": "relative", "award": "award", "album": "album", "artist": "artist",
}
DROP = {"type", "picture", "thumbnail", "wikiPageWikiLink", "class", "category", "timeZone", "review",
        "citizenship", "leaderTitle", "governmentType", "longtype", "format", "status", "blockAlloy",
        "bodyDiscovered", "associate", "anthem", "artery", "vein", "nerve", "lymph", "precursor"}
#: Keys that no DBpedia mapping covers but that the ZIM's rendered infoboxes use (reviewed by hand; the
#: ``property`` column says ``manual``).
MANUAL = {"b side": "B-side", "recorded by": "performer", "music by": "composer", "lyrics by": "lyricist",
          "written by": "writer", "produced by": "producer", "directed by": "director"}


def ontology_labels(path: Path) -> tuple[dict[str, str], set[str]]:
    """English labels of every property, and the names of the object properties."""
    labels: dict[str, str] = {}
    objects: set[str] = set()
    with bz2.open(path) as fh:
        for el in ET.parse(fh).getroot():
            if el.tag not in (OWL + "ObjectProperty", OWL + "DatatypeProperty"):
                continue
            name = el.get(RDF + "about", "").rsplit("/", 1)[-1]
            for lab in el.findall(RDFS + "label"):
                if lab.get(XML_LANG) == "en" and lab.text:
                    labels[name] = lab.text.strip()
            if el.tag == OWL + "ObjectProperty":
                objects.add(name)
    return labels, objects


def normalise_key(key: str) -> str:
    """``Birth_place`` / ``birth place`` / ``associated_acts2`` → ``birth place`` / ``associated acts``."""
    return re.sub(r"\s+", " ", re.sub(r"[_\d]+", " ", key.lower())).strip()


def key_properties(path: Path) -> dict[str, Counter[str]]:
    """Normalised infobox key → how many templates map it to each ontology property."""
    with bz2.open(path) as fh:
        text = fh.read().decode("utf-8")
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for page in re.split(r"<page>", text)[1:]:
        if not _TEMPLATE.search(page):
            continue
        seen = set()
        for key, prop in _MAPPING.findall(page):
            pair = (normalise_key(key), prop.strip().split(":")[-1])
            if pair[0] and pair not in seen:
                seen.add(pair)
                out[pair[0]][pair[1]] += 1
    return out


def build(dbpedia: Path, min_templates: int) -> list[tuple[str, str, str, int]]:
    labels, objects = ontology_labels(dbpedia / "ontology.owl.bz2")
    rows = []
    for key, props in sorted(key_properties(dbpedia / "Mapping_en.xml.bz2").items()):
        prop, n = props.most_common(1)[0]
        if n < min_templates or n * 2 < sum(props.values()) or prop not in objects or prop in DROP:
            continue
        phrase = REVIEWED.get(prop) or labels.get(prop, "").lower()
        if phrase and re.fullmatch(r"[a-z][a-z ']+", phrase):
            rows.append((key, prop, phrase, n))
    known = {r[0] for r in rows}
    rows += [(k, "manual", ph, 0) for k, ph in MANUAL.items() if k not in known]
    return sorted(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dbpedia", type=Path, default=ROOT.parent / "shared" / "data" / "dbpedia")
    ap.add_argument("--out", type=Path, default=ROOT / "tasks" / "sample" / "infobox_relations.tsv")
    ap.add_argument("--min-templates", type=int, default=1)
    args = ap.parse_args(argv)
    rows = build(args.dbpedia, args.min_templates)
    header = ("# Infobox key (normalised) -> relation phrase, derived from the DBpedia Mappings Wiki\n"
              "# (Mapping_en.xml + ontology.owl): DBpedia Mappings Wiki contributors, CC BY-SA 3.0\n"
              "# (https://creativecommons.org/licenses/by-sa/3.0/). Regenerate: scripts/build_infobox_relations.py\n"
              "key\tproperty\tphrase\ttemplates\n")
    args.out.write_text(header + "".join(f"{k}\t{p}\t{ph}\t{n}\n" for k, p, ph, n in rows), encoding="utf-8")
    sys.stderr.write(f"{len(rows)} keys -> {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
