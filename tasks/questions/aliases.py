"""Answer aliases: other written forms of the same answer, so an exact-match reward accepts them.

- numbers: with and without digit grouping ("44,579,000" / "44579000" / "44 579 000"), the unit kept, dropped
  and spelled ("km2" / "km²" / "square kilometres");
- dates: "20 November 2009" / "November 20, 2009" / "2009-11-20"; "June 1964" / "1964-06"; a bare year
  "1961" also reads "in 1961";
- durations "37:43" → "37 minutes 43 seconds" / "37 min 43 s";
- an answer that is an entity: its redirects and other names (``entity_names``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_MONTH_RE = "|".join(m.capitalize() for m in _MONTHS)
_DMY = re.compile(rf"^(\d{{1,2}}) ({_MONTH_RE}) (\d{{3,4}})$")
_MDY = re.compile(rf"^({_MONTH_RE}) (\d{{1,2}}),? (\d{{3,4}})$")
_MY = re.compile(rf"^({_MONTH_RE}) (\d{{3,4}})$")
_YEAR = re.compile(r"^(1[0-9]{3}|20[0-9]{2})$")
_NUMBER = re.compile(r"^(?P<num>\d{1,3}(?:[, ]\d{3})+|\d+)(?P<frac>\.\d+)?(?:\s*(?P<unit>[A-Za-z%°²µ].*))?$")
_DURATION = re.compile(r"^(\d{1,3}):([0-5]\d)$")
_UNITS = {"km2": ["km²", "square kilometres", "sq km"], "km²": ["km2", "square kilometres"],
          "m": ["metres", "meters"], "km": ["kilometres", "kilometers"], "ft": ["feet"], "mi": ["miles"],
          "kg": ["kilograms"], "%": ["percent"]}


def _numbers(text: str) -> list[str]:
    m = _NUMBER.match(text)
    if m is None or _YEAR.match(text):
        return []
    digits = re.sub(r"[, ]", "", m.group("num"))
    frac, unit = m.group("frac") or "", (m.group("unit") or "").strip()
    forms = {digits + frac, f"{int(digits):,}{frac}", f"{int(digits):,}".replace(",", " ") + frac}
    out = set(forms)
    if unit:
        out = {f"{f} {u}" for f in forms for u in [unit, *_UNITS.get(unit, [])]} | forms
    return sorted(out)


def _dates(text: str) -> list[str]:
    if m := _DMY.match(text):
        d, mon, y = int(m.group(1)), m.group(2), m.group(3)
    elif m := _MDY.match(text):
        mon, d, y = m.group(1), int(m.group(2)), m.group(3)
    elif m := _MY.match(text):
        mon, y = m.group(1), m.group(2)
        return [f"{y}-{_MONTHS.index(mon.lower()) + 1:02d}", f"{mon[:3]} {y}"]
    elif _YEAR.match(text):
        return [f"in {text}"]
    else:
        return []
    n = _MONTHS.index(mon.lower()) + 1
    return [f"{d} {mon} {y}", f"{mon} {d}, {y}", f"{y}-{n:02d}-{d:02d}"]


def _durations(text: str) -> list[str]:
    m = _DURATION.match(text)
    if m is None:
        return []
    mins, secs = int(m.group(1)), int(m.group(2))
    return [f"{mins} minutes {secs} seconds", f"{mins} min {secs} s", f"{mins}m{secs:02d}s"]


def names_of(answer: str, entity_names: Iterable[str]) -> list[str]:
    """The entity's other names that are names of it: parenthetical qualifiers dropped, and only those sharing
    a word with the answer (a redirect from a song title to its singer is not the singer's name)."""
    words = {w.casefold() for w in re.findall(r"\w+", answer) if len(w) >= 3}
    out = []
    for name in entity_names:
        bare = re.sub(r"\s*\([^)]*\)\s*$", "", name).strip()
        if bare and words & {w.casefold() for w in re.findall(r"\w+", bare)}:
            out.append(bare)
    return out


def answer_aliases(answer: str, entity_names: Iterable[str] = ()) -> tuple[str, ...]:
    """Other forms of ``answer`` (never the answer itself), sorted, deduplicated case-insensitively."""
    a = " ".join(answer.split())
    cands = [*(_dates(a) or _durations(a) or _numbers(a)), *names_of(a, entity_names)]
    seen = {a.casefold()}
    out = []
    for c in cands:
        c = " ".join(str(c).split())
        if c and c.casefold() not in seen:
            seen.add(c.casefold())
            out.append(c)
    return tuple(sorted(out))
