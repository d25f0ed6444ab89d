"""A learned second opinion on whether a mail is a claim or an incident, for the vocabulary's blind spots.

Why a learned model beside the vocabulary: each new writer brought quiet claims with no problem word at
all (a reminder of a promise, a question about money due, surprise at a difference), and tuning the
vocabulary on one writer's mail did not carry to the next: measured on writers it had never seen, the
vocabulary found 85-93 % of claims and incidents and put 18-31 % of ordinary mail before the director.
A logistic regression over the words and word pairs of every labelled mail, measured the same way
(trained without the writer it is tested on), does better on both counts (BENCHMARKS §8).

Its place is deliberately narrow. It never opens a case nor sends an acknowledgement: opening stays
with the vocabulary's sure signals (a formal claim, a tag, a known reporter's incident). It only moves
mail between « leave » and « put before the director »: a mail the vocabulary leaves but the model
finds likely is put before her, and one the vocabulary only half suspects is left when the model finds
it unlikely. Both thresholds are in the vocabulary (`[modele]`), and the weights are a plain table
(`rules/recognition/modele.tsv`) the organisation can read, correct, or switch off.

The features are the vocabulary's own folded, stemmed words (so « décue », « DECUE » and « déçues »
are one feature) and each pair of neighbours within the subject or within the text. The score is
what scikit-learn's TfidfVectorizer (sublinear tf, L2 norm) and LogisticRegression compute, redone in
a few lines so that running the product needs neither; `bench/train_recognition.py` fits the table.

Pure: parsing takes the file's text; scoring is one dict lookup per feature, linear in the capped text.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inboxbot.domain.rules import InvalidEntry

INTERCEPT = "constante"  # the first table row: the model's intercept
SEPARATOR = " "  # joins the two stems of a pair; stems never hold a space
TELLING_IDF = 3.0  # a feature in more than about one labelled mail in eight is too common to show


def features(subject: Sequence[str], text: Sequence[str]) -> list[str]:
    """The model's features of a mail: each stem, and each pair of neighbouring stems in one field."""
    found: list[str] = []
    for stems in (subject, text):
        previous = ""
        for stem in stems:
            if not stem:  # a word too long to be one (base64, a URL): breaks pairs, counts nothing
                previous = ""
                continue
            found.append(stem)
            if previous:
                found.append(previous + SEPARATOR + stem)
            previous = stem
    return found


@dataclass(frozen=True)
class Opinion:
    """The model's probability that a mail is a claim or an incident, and the features that raised it
    most (feature, contribution), strongest first."""

    probability: float
    strongest: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Model:
    intercept: float
    terms: dict[str, tuple[float, float]]  # feature -> (idf, weight)

    def judge(self, found: Iterable[str], strongest: int = 4) -> Opinion:
        """The probability and the `strongest` telling features that raised it.

        Telling: rarer than the words of every mail (idf at least TELLING_IDF), so the director reads
        « toujours », « relance » rather than « je », « cette », which also count but say nothing.
        """
        counts = Counter(feature for feature in found if feature in self.terms)
        values: dict[str, float] = {}
        for feature, count in counts.items():
            values[feature] = (1.0 + math.log(count)) * self.terms[feature][0]
        norm = math.sqrt(sum(value * value for value in values.values()))
        contributions: list[tuple[str, float]] = []
        total = self.intercept
        if norm > 0:
            for feature, value in values.items():
                contribution = value / norm * self.terms[feature][1]
                total += contribution
                if contribution > 0 and self.terms[feature][0] >= TELLING_IDF:
                    contributions.append((feature, contribution))
        contributions.sort(key=lambda item: (-item[1], item[0]))
        # The logistic function, written to stay finite for any total a hand-edited table can produce.
        if total >= 0:
            probability = 1.0 / (1.0 + math.exp(-total))
        else:
            exponential = math.exp(total)
            probability = exponential / (1.0 + exponential)
        return Opinion(probability, tuple(contributions[:strongest]))


def parse_model(text: str) -> Model:
    """Read the table: comment lines (#), `constante<TAB>x`, then `feature<TAB>idf<TAB>weight` rows.

    A bad row raises InvalidEntry naming its line, so a hand edit gone wrong stops `run` at
    start with the place to mend.
    """
    intercept: float | None = None
    terms: dict[str, tuple[float, float]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"line {number}"
        cells = line.split("\t")
        if intercept is None:
            if len(cells) != 2 or cells[0] != INTERCEPT:
                raise InvalidEntry(where, f"expected « {INTERCEPT}<TAB>number » first, got {line[:60]!r}")
            intercept = _finite(cells[1], where)
            continue
        if len(cells) != 3 or not cells[0] or cells[0] != cells[0].strip():
            raise InvalidEntry(where, f"expected « feature<TAB>idf<TAB>weight », got {line[:60]!r}")
        idf, weight = _finite(cells[1], where), _finite(cells[2], where)
        if idf <= 0:
            raise InvalidEntry(where, f"the idf must be positive, got {cells[1]!r}")
        if cells[0] in terms:
            raise InvalidEntry(where, f"duplicate feature {cells[0]!r}")
        terms[cells[0]] = (idf, weight)
    if intercept is None:
        raise InvalidEntry("line 1", f"empty model: expected « {INTERCEPT}<TAB>number » then the features")
    return Model(intercept, terms)


def _finite(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise InvalidEntry(where, f"expected a number, got {cell[:30]!r}") from None
    if not math.isfinite(value):
        raise InvalidEntry(where, f"expected a finite number, got {cell[:30]!r}")
    return value
