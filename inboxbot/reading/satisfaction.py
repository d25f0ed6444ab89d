"""Reading a claimant's answer to the satisfaction request: a mark from 1 to 5 and a comment.

The answer is free text ("4/5", "je mets quatre", "très satisfaite !", "★★★★☆", "not satisfied
at all"), and the mark goes into the procedure's records, so a wrong mark is worse than none:
whatever is not read with confidence gives `mark=None` and the words are still kept.

Confidence comes from context. A number is a mark only where a mark is being given: alone on
its line, over 5 ("4/5", "4 sur 5"), as stars, or after "note", "je mets", "I'd give it"; never a
date, a time, a phone or case number. Words are read only as the request invites them ("très
satisfait(e)" 5, "satisfait(e)" 4, "moyennement satisfait(e)"/"mitigé" 3, "peu/pas satisfait(e)"/
"insatisfait(e)" 2, "pas du tout satisfait(e)"/"très insatisfait(e)"/"très déçu(e)" 1, and the
English equivalents), with the negation and degree words before them. A number outranks words:
"Satisfait, je mets 5/5" is a 5, not a conflict. Two different numbers, or with no number two
different expressions, give None; so does a number outside 1..5 ("0/5", "6/5", "4,5/5").

Quoted history is left out first (`inboxbot.reading.quotes.strip_history`): the request itself, quoted
below the answer, lists marks ("de 1 (pas du tout satisfait) à 5 (très satisfait)").

Written here rather than taken from a library: no maintained package reads marks out of
French free text, and sentiment models would guess a 1..5 score where the procedure needs the
one the claimant gave.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from inboxbot.domain.text import fold
from inboxbot.reading.quotes import strip_history


@dataclass(frozen=True)
class Feedback:
    """The claimant's mark (1..5, or None when none can be read with confidence) and words."""

    mark: int | None
    comment: str


@dataclass(frozen=True)
class _Finding:
    """One mark read on one line; `value` None means a mark was given but is not valid."""

    value: int | None
    explicit: bool  # a number or stars, which outrank words
    start: int
    end: int
    only_alone: bool = False  # counts only on a line that holds nothing else (a lone "⭐")


_NUMBERS = {
    "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
    "neuf": 9, "dix": 10, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10,
}  # fmt: skip
# A number as people type it; decimals are captured to be refused, not rounded.
_N = r"(\d{1,2}(?:[.,]\d+)?|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"
_AFTER_N = r"(?![\w'])(?!\s*[:h]\s*\d)(?!-\d)"
_FIVE = r"(?:5|cinq|five)(?![\w'])(?![.,]\d)"

# "de 1 à 5", "entre 1 et 5", "from 1 to 5": the scale, not a mark; blanked before anything else.
_SCALE = re.compile(r"(?<![\w.,/])(?:1|un|one)\s*(?:a|to|-|–|et|and)\s*(?:5|cinq|five)(?![\w.,/])")
_SCALE_THEN_MARK = re.compile(
    r"(?<![\w.,/])(?:1|un|one)\s*(?:a|to|-|–)\s*(?:5|cinq|five)\s*(?:[:,=]\s*)?"
    r"(?:je (?:dirais|dirai|mets|met|donne)\s+|i(?:'d| would) say\s+)?" + _N + _AFTER_N
)
_FRACTION = re.compile(
    r"(?<![\w.,/'-])" + _N + r"\s*(?:(?:points?|etoiles?|stars?)\s*)?(?:/|sur|out of)\s*" + _FIVE + r"(?!\s*/\s*\d)"
)
# Words that make a following "12/5" a date ("le 12/5"), looked for just before it (`_after_date_word`).
_DATE_WORDS = ("le", "du", "au", "des", "depuis", "jusqu'au", "from", "on", "since", "until", "till", "the")
_STAR_GLYPHS = re.compile(r"[★☆⭐✩✭✮✯](?:\s*[★☆⭐✩✭✮✯])*")
_FILLED_STARS = frozenset("★⭐✭✮✯")
_STAR_WORDS = re.compile(r"(?<![\w.,/'-])" + _N + r"\s*(?:etoiles?|stars?)\b")
_CONTEXT = re.compile(
    r"\b(?:ma note(?: est| serait| sera| globale)?|note(?: globale)?|notation|evaluation|score|rating|mark"
    r"|je (?:vous |lui |leur )?(?:mets|mettrais|mettrai|met|donne|donnerais|donnerai|attribue|note|dirais|dirai)"
    r"|j'attribue|i(?: would|'d)? (?:give|rate|say)(?: (?:it|you|this|them))?)"
    r"\s*(?:(?:est|is|of|de)\s+)?(?:[:=]\s*)?(?:(?:un|une|a)\s+)?" + _N + _AFTER_N + r"(?=\s*(?:$|[.,;:!?)\]/…–—-]"
    r"|(?:sur|out|etoiles?|stars?|car|parce|mais|et|pour|because|but|and|as|since|donc|vu|malgre|seulement|only"
    r"|je|j'|i|ma|my|overall|globalement|au|en|a|la|le|merci|thanks|thank)\b))"
)
_ALONE = re.compile(r"^[\s*•:.>-]*" + _N + r"[\s.!]*$")

# Words, read clause by clause.
_CLAUSE_BREAK = re.compile(r"[.;!?,:()\[\]\n]|\b(?:mais|et|but|and|or|ou|cependant|however|sinon|though)\b")
_BOTH_WAYS = re.compile(
    r"\bni (?:tres )?satisfaite?s? ni (?:tres )?(?:insatisfaite?s?|mecontente?s?)\b"
    r"|\bneither satisfied nor (?:dis|un)satisfied\b|\bmitigee?s?\b|\bmixed feelings\b"
)
_VERY_DISAPPOINTED = re.compile(
    r"\b(?:tres|extremement|profondement|vraiment|terriblement|tellement) decue?s?\b"
    r"|\b(?:very|extremely|deeply|really|terribly|so) disappointed\b"
)
_SATISFIED = re.compile(r"\b(in|dis|un)?satisf(?:aite?s?|ied)\b")
_TOKENS = re.compile(r"[a-z]+(?:'[a-z]+)?|'")

# "non" only right before the word ("non satisfait"): "non seulement satisfait, mais ravi" is praise.
_NEGATIONS = frozenset({"pas", "jamais", "not", "never", "no", "nullement", "aucunement"})
_STRONG_NEGATIONS = (
    ("pas", "du", "tout"),
    ("not", "at", "all"),
    ("absolument", "pas"),
    ("nullement",),
    ("aucunement",),
)
_COMPLETELY = frozenset(
    {"entierement", "totalement", "completement", "pleinement", "parfaitement", "fully", "completely", "entirely"}
    | {"totally", "quite", "perfectly", "wholly"}
)
_BARELY = frozenset({"peu", "guere", "barely", "hardly"})
_PARTLY = frozenset({"moyennement", "moderately", "somewhat", "mildly", "partiellement", "partially", "moitie", "half"})
_VERY = frozenset(
    {"tres", "extremement", "vraiment", "entierement", "totalement", "completement", "pleinement", "parfaitement"}
    | {"hyper", "super", "tellement", "absolument", "ultra", "very", "extremely", "really", "completely", "fully"}
    | {"totally", "entirely", "highly", "perfectly", "absolutely", "so", "profondement", "deeply"}
)
_WINDOW = 6  # words before "satisfait" that may qualify it

# Words that may stand beside a mark on a line that is nothing but the mark ("Ma note : 4/5").
_FILLER = frozenset(
    {"note", "notes", "ma", "mon", "notre", "votre", "la", "le", "les", "de", "du", "des", "pour", "a", "the", "my"}
    | {"our", "your", "global", "globale", "globalement", "overall", "evaluation", "satisfaction", "rating", "score"}
    | {"mark", "avis", "formation", "training", "course", "traitement", "reclamation", "je", "i", "suis", "am", "im"}
    | {"i'm", "j'ai", "dirais", "say", "would", "i'd", "'"}
)


def read_feedback(text: str) -> Feedback:
    """The mark and comment in a reply to the satisfaction request.

    The comment is the reply without its quoted history, and without the lines that are nothing
    but the mark when a mark was read ("4/5" on its own line); otherwise it is the whole reply.
    """
    reply = strip_history(text)
    if not reply:
        return Feedback(None, "")
    lines = reply.split("\n")
    per_line = [_read_line(line) for line in lines]
    findings = [finding for line_findings, _ in per_line for finding in line_findings]
    mark = _decide(findings)
    if mark is None:
        return Feedback(None, reply)
    kept = [
        line
        for line, (line_findings, alone) in zip(lines, per_line, strict=True)
        if not (alone and line_findings and all(f.value == mark for f in line_findings))
    ]
    if len(kept) == len(lines):
        return Feedback(mark, reply)
    return Feedback(mark, re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip())


def _decide(findings: list[_Finding]) -> int | None:
    """The one mark the findings agree on, numbers first; None when invalid or in conflict."""
    explicit = [f for f in findings if f.explicit]
    chosen = explicit or findings
    values = {f.value for f in chosen}
    if len(values) != 1:
        return None
    return values.pop()


def _read_line(line: str) -> tuple[list[_Finding], bool]:
    """The marks on one line, and whether the line is nothing but its mark."""
    # Offsets below are into this folded line only: fold() may change a line's length (ligatures
    # expand), and emoji variation selectors ("⭐️") are dropped so that star runs stay whole.
    work = fold(line).replace("’", "'").replace("\ufe0f", "")
    findings: list[_Finding] = []

    masked_to = 0  # end of the last finding of the pattern being read: what lies before is masked

    def take(pattern: re.Pattern[str], reader: Callable[[re.Match[str]], _Finding | None]) -> None:
        # Masked once per pattern, not once per finding: a line of 10,000 marks was quadratic.
        nonlocal work, masked_to
        read: list[_Finding] = []
        masked_to = 0
        for match in pattern.finditer(work):
            finding = reader(match)
            if finding is not None:
                read.append(finding)
                masked_to = finding.end
        findings.extend(read)
        work = _masked(work, [(finding.start, finding.end) for finding in read])

    take(_SCALE_THEN_MARK, lambda m: _number(m, m.start(), m.end()))
    work = _SCALE.sub(lambda m: _MASK * len(m.group()), work)
    take(_FRACTION, lambda m: None if _after_date_word(work, m.start(), masked_to) else _number(m, m.start(), m.end()))
    take(_STAR_GLYPHS, _stars)
    take(_STAR_WORDS, lambda m: _number(m, m.start(), m.end()))
    take(_CONTEXT, lambda m: _number(m, m.start(), m.end()))
    if not findings:
        take(_ALONE, lambda m: _number(m, m.start(), m.end()))
    if not findings:
        findings.extend(_expressions(work))
        work = _masked(work, [(finding.start, finding.end) for finding in findings])
    residue = [t for t in _TOKENS.findall(work) if t not in _FILLER]
    alone = not residue and not re.search(r"\d", work)
    return [f for f in findings if alone or not f.only_alone], alone


_MASK = "\x00"
"""Stands in for what was already read, offsets unchanged. Not a space: "je mets un 2 sur 5" with
"2 sur 5" read must not leave "je mets un" looking like a finished sentence giving 1."""


def _masked(work: str, spans: list[tuple[int, int]]) -> str:
    """`work` with each of `spans` masked (they may overlap: words findings all start at their
    clause), in one pass."""
    if not spans:
        return work
    pieces: list[str] = []
    position = 0
    for start, end in sorted(spans):
        start = max(start, position)
        if end <= start:
            continue
        pieces.append(work[position:start])
        pieces.append(_MASK * (end - start))
        position = end
    pieces.append(work[position:])
    return "".join(pieces)


def _after_date_word(work: str, start: int, masked_to: int) -> bool:
    """Whether `work[:start]` ends with a date word ("le", "from"…) and blanks, the word starting a
    word. What precedes `masked_to` counts as masked (a finding of the same pattern, not yet masked
    in `work`). Read backwards from `start`, so only the blanks and the word before it are looked
    at, where searching `\\b(?:le|…)\\s*$` in the whole prefix cost the prefix for every fraction.
    """
    end = start
    while end > masked_to and work[end - 1].isspace():
        end -= 1
    for word in _DATE_WORDS:
        begin = end - len(word)
        if begin < masked_to or not work.startswith(word, begin):
            continue
        if begin == 0 or begin <= masked_to or not _is_word_character(work[begin - 1]):
            return True
    return False


def _is_word_character(char: str) -> bool:
    """What `\\b` takes for a word character."""
    return char.isalnum() or char == "_"


def _number(match: re.Match[str], start: int, end: int) -> _Finding:
    """An explicit mark from the number in group 1: None when it is no mark from 1 to 5."""
    written = match.group(1)
    if written in _NUMBERS:
        value: int | None = _NUMBERS[written]
    elif written.isdigit():
        value = int(written)
    else:
        value = None  # "4,5": half marks are not on the scale
    return _Finding(value if value is not None and 1 <= value <= 5 else None, True, start, end)


def _stars(match: re.Match[str]) -> _Finding | None:
    """A run of star glyphs: the filled ones are the mark ("★★★★☆" is 4)."""
    glyphs = [ch for ch in match.group() if not ch.isspace()]
    filled = sum(ch in _FILLED_STARS for ch in glyphs)
    if len(glyphs) == 1:
        # One star is a 1 when it is the whole answer, and decoration ("Merci ⭐") otherwise.
        return _Finding(1, True, match.start(), match.end(), only_alone=True) if filled else None
    return _Finding(filled if 1 <= filled <= 5 and len(glyphs) <= 5 else None, True, match.start(), match.end())


def _expressions(work: str) -> Iterator[_Finding]:
    """Marks said in words; each spans from its clause's start to its last word, so that a line
    holding only "Je suis très satisfaite !" is a mark line and "… de l'accueil" is not."""
    for start, end in _clauses(work):
        clause = work[start:end]
        for pattern, value in ((_BOTH_WAYS, 3), (_VERY_DISAPPOINTED, 1)):
            for match in pattern.finditer(clause):
                yield _Finding(value, False, start, start + match.end())
            clause = pattern.sub(lambda m: _MASK * len(m.group()), clause)
        for match in _SATISFIED.finditer(clause):
            read = _satisfaction(match, clause)
            if read is not None:
                yield _Finding(read[0], False, start, start + read[1])


def _clauses(work: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _CLAUSE_BREAK.finditer(work):
        yield start, match.start()
        start = match.end()
    yield start, len(work)


_AT_ALL = re.compile(r"\s+(?:du tout|at all)\b")
_FULLY_AFTER = re.compile(r"\s+a\s+100\s*%")


def _satisfaction(match: re.Match[str], clause: str) -> tuple[int, int] | None:
    """The mark a "satisfait"/"satisfied" says once the words before and after it are weighed,
    and where its expression ends in `clause`; None when it says no mark."""
    before = _last_tokens(clause, match.start())
    at_all = _AT_ALL.match(clause, match.end())
    fully_after = _FULLY_AFTER.match(clause, match.end())
    end = at_all.end() if at_all else fully_after.end() if fully_after else match.end()
    fully = bool(fully_after or _fully_before(clause, match.start()))
    negated = (
        any(t in _NEGATIONS or t.endswith("n't") for t in before)
        or before[-1:] == ["non"]
        or ("plus" in before and any(t in ("ne", "n") or t.startswith("n'") for t in before))
    )
    if match.group(1):  # insatisfait, dissatisfied, unsatisfied
        if negated:
            return None  # "pas insatisfait" says too little
        return (1 if any(t in _VERY for t in before) else 2), end
    if any(_contains(before, phrase) for phrase in _STRONG_NEGATIONS) or (negated and at_all):
        return 1, end
    if negated:
        completely = fully or any(t in _COMPLETELY for t in before) or _contains(before, ("tout", "a", "fait"))
        return (3 if completely else 2), end
    if any(t in _BARELY for t in before):
        return 2, end
    if any(t in _PARTLY for t in before):
        return 3, end
    if fully or any(t in _VERY for t in before) or _contains(before, ("tout", "a", "fait")):
        return 5, end
    return 4, end


def _last_tokens(clause: str, end: int) -> list[str]:
    """The last `_WINDOW` words of `clause[:end]`, reading back only as far as they need: taking
    them from the whole prefix cost the prefix for every "satisfait" of a long clause."""
    span = 64
    while True:
        begin = max(0, end - span)
        tokens = _TOKENS.findall(clause, begin, end)
        # Two more words than needed: `begin` may cut a word in two ("aujourd" and "'hui").
        if begin == 0 or len(tokens) > _WINDOW + 1:
            return tokens[-_WINDOW:]
        span *= 4


def _fully_before(clause: str, end: int) -> bool:
    """Whether `clause[:end]` ends with "100 %" and blanks ("à 100 % satisfaite"), read backwards."""
    position = end
    while position > 0 and clause[position - 1].isspace():
        position -= 1
    if position == 0 or clause[position - 1] != "%":
        return False
    position -= 1
    while position > 0 and clause[position - 1].isspace():
        position -= 1
    return clause.endswith("100", 0, position)


def _contains(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(tuple(tokens[i : i + size]) == phrase for i in range(len(tokens) - size + 1))
