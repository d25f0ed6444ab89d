"""Recognising claims, difficulties and aléas in a mail's own words, for a shared mailbox.

The organisation's complaint address is the director's personal one, so most mail she gets is
ordinary business, and people almost never title a complaint « Réclamation ». This module reads the
subject and the mail's new text and says whether a case should be opened, whether the mail should be
put before her to qualify, or whether it is ordinary mail to leave alone. It is pure: no I/O, no
clock, no store; the caller says who the sender is and whether the receiving server flagged the mail.

Why weighted phrases and not keywords: one word rarely makes a complaint (« remboursement » is in every
refund-procedure question), while a few mild signals together do (« toujours pas reçu », « malgré mes
relances »); thanks and « problème résolu » cancel problem words; negation before a word cancels it
(« aucun problème », « pas déçue »). The vocabulary, weights and thresholds are data
(`rules/recognition/vocabulary.toml`), so the organisation can read why a mail was flagged and change
it, and each Assessment carries the words that counted.

How words are compared: accents and case are folded, then a light, symmetric suffix stripping is
applied to both the text and the vocabulary (final -s/-x, up to two final -e, then one verb ending:
-er, -ez, -ait, -aient, -ais, -ant, -ent, and English -ed, -ing, each keeping a minimum stem), so
« déçu » matches déçue, déçus, DECUES, and « annulé » matches annulée, annuler, annulait, annulent.
A vocabulary word ending in `*` is a prefix (« rembours* »). A French lemmatiser (simplemma) was
considered and not used: it only knows accented spellings (« decue », « annulee » stay unknown), which
is how much real mail is typed, and loading it would slow every start.

Deciding: the score opens a case only with evidence of the right kind (`seuils.ouvrir_si`: a formal
complaint, a demand with dissatisfaction or insistence, a known reporter describing an incident…);
otherwise a high score puts the mail before the director. What counts for a case is damped in a text
that reads like a newsletter (unsubscribe words, links, lists) or that never says « je » nor « vous ».

A learned second opinion (`inboxbot/reading/learned.py`, table `rules/recognition/modele.tsv`) then
moves mail only between « leave » and « candidate », never to « open »: each new writer brought quiet
claims no phrase foresaw, and the model, fitted on every labelled mail, carries to unseen writers better
than phrases tuned on one writer did (BENCHMARKS §8). Under `[modele] mots_min` words it abstains.

Hostile input: a stranger writes the text. The text looked at is capped (`lecture.caracteres`), words
are found with one character-class pattern (no backtracking), and each token is looked up in hash
tables; phrases have a bounded length, so a scan is linear in the capped input.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from inboxbot.domain.rules import InvalidEntry, toml_type_name
from inboxbot.domain.text import fold
from inboxbot.domain.vocabulary import Kind
from inboxbot.reading.learned import SEPARATOR, Model, features, parse_model

__all__ = [
    "KINDS",
    "OUTCOMES",
    "VOCABULARY_PATH",
    "Assessment",
    "Match",
    "RecognitionError",
    "Recognizer",
    "load_recognition",
    "parse_recognition",
]

Outcome = Literal["open", "candidate", "leave"]
KINDS: tuple[Kind, ...] = (Kind.RECLAMATION, Kind.ALEA, Kind.DIFFICULTE)  # in the order its errors list them
OUTCOMES: tuple[Outcome, ...] = ("open", "candidate", "leave")
INCIDENT_KINDS: frozenset[Kind] = frozenset({Kind.ALEA, Kind.DIFFICULTE})

VOCABULARY_PATH = Path("recognition") / "vocabulary.toml"
"""Where the vocabulary lives inside a rules directory.

In a sub-directory, not beside the rule files: `load_rules` reads every `rules/*.toml` as `[[rule]]`
tables and would reject this file.
"""

SUBJECT_CHARS = 1000  # a subject longer than this is hostile or broken; the start says enough
MAX_WORD = 40  # longer "words" are data (base64, URLs): they never match a vocabulary word
MAX_PHRASE_WORDS = 8
MAX_GAP = 10
EXCERPT_BEFORE = 80
EXCERPT_AFTER = 140
FOUND_CHARS = 60  # the longest "words found" shown to the director
MAX_REASONS = 8
_MAX_TRIES = 200 * 16  # a phrase is tried at most 200 times per field where it does not match…
_TRY_STEP = 16  # … counted in steps of this, the units counting its matches (at most 3 kept)
_CACHE_LIMIT = 50_000  # distinct words remembered between mails; cleared past this

_WORD = re.compile(r"[^\W_]+")  # one character class: linear, no backtracking
_SENTENCE_END = ".!?;"
_BULLETS = frozenset("-•*–—·►▪■✓✔>")
_BULLET_PAIRS = frozenset({"o ", "a)", "b)", "c)"})


# --- folding words --------------------------------------------------------------------------------


def _build_fold_table() -> dict[int, str]:
    """A str.translate table doing `fold` for the Latin letters French and English mail uses.

    `fold` decomposes and filters character by character in Python; a table runs in C. It is built
    from `fold` itself so both agree, plus the ligatures NFKD leaves alone (œ, æ), which people type
    both ways (« vœux », « voeux »).
    """
    table: dict[int, str] = {}
    for code in (*range(0x80, 0x250), *range(0x1E00, 0x1F00), *range(0xFB00, 0xFB07)):
        char = chr(code)
        folded = fold(char)
        if folded != char:
            table[code] = folded
    for char, folded in {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae"}.items():
        table[ord(char)] = folded
    return table


_FOLD_TABLE = _build_fold_table()


def _fold_text(text: str) -> str:
    """Accents removed and case folded, in C; other scripts are only case-folded."""
    return text.translate(_FOLD_TABLE).lower()


# Verb and agreement endings, longest first, each with the shortest stem it may leave. Folded text
# has no accents, so « annulé », « annulée », « annuler », « annulait », « annulent » all end here.
_ENDINGS: tuple[tuple[str, int], ...] = (
    ("aient", 4),
    ("ait", 3),
    ("ais", 4),
    ("ai", 4),  # « attendais » once its -s is gone
    ("ant", 5),
    ("ent", 5),
    ("ing", 4),
    ("er", 3),
    ("ez", 4),
    ("ed", 4),
)
# No -ons nor -ions: « réclamations », « questions » must stay plurals of their nouns.


def _stem(word: str) -> str:
    """A folded word without its plural, feminine and common verb endings: déçues, decue -> decu;
    annulée, annuler, annulait, annulent -> annul; lâché, lâcher -> lach.

    Applied alike to the mail and to the vocabulary, so it need not be linguistically right, only
    consistent: it merges the forms people write, with or without accents. Each step looks at the
    word's end only (a bounded amount of work per word). Short words are left alone, and each
    ending keeps a minimum stem, so « jamais », « absent », « avez » stay as they are.
    """
    if len(word) >= 5 and word[-1] in "sx":
        word = word[:-1]
    for _ in range(2):
        if len(word) >= 5 and word[-1] == "e":
            word = word[:-1]
    for ending, shortest in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= shortest:
            word = word[: -len(ending)]
            # « exigeait », « exigez » leave « exige », as « exige » itself was cut to « exig »
            return word[:-1] if len(word) >= 5 and word[-1] == "e" else word
    return word


_REPLY_PREFIXES = ("re", "tr", "fw", "fwd", "aw", "wg", "rv", "ref")


def _is_reply(subject: str) -> bool:
    """Whether the subject is a reply's or a forward's (« RE : », « TR: », « Fwd: »).

    Such a subject was written for an earlier message; what this one says is in its text.
    """
    head = _fold_text(subject[:20]).lstrip()
    colon = head.find(":")
    return colon > 0 and head[:colon].strip() in _REPLY_PREFIXES


# --- errors ---------------------------------------------------------------------------------------


class RecognitionError(Exception):
    """A vocabulary file that cannot be used as written.

    Like the rules' errors: `path` is the file, `key` the dotted key inside it
    (`groupe[3].expressions[12]`) or None when the fault is the file's (unreadable, not TOML),
    `reason` the bare explanation. A typo must stop the program, not silently stop recognising.
    """

    def __init__(self, path: Path, key: str | None, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {reason}")


# --- the compiled vocabulary ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Element:
    """One word of a phrase: a stemmed word, or a folded prefix; `gap` words may come before it."""

    word: str
    prefix: bool
    gap: int

    def matches(self, raw: str, stem: str) -> bool:
        return raw.startswith(self.word) if self.prefix else stem == self.word


@dataclass(frozen=True)
class Group:
    """A set of phrases sharing a weight and a meaning (see the vocabulary file's header)."""

    name: str
    description: str
    kind: Kind | None
    weight: float
    negatable: bool
    where: Literal["subject", "text", "both"]
    cap: float | None
    question: float = 1.0  # factor for a match in a sentence ending with « ? » (an inquiry, not a demand)
    evidence: str | None = None  # what a match shows (« demande », « insatisfaction »…), for `ouvrir_si`
    reporter: bool = True  # whether a known reporter's match counts `facteur_signaleur` times


@dataclass(frozen=True, eq=False)
class _Phrase:
    text: str  # as written in the vocabulary file
    elements: tuple[_Element, ...]
    group: Group
    index: int  # position in the vocabulary: a stable order for ties


@dataclass(frozen=True)
class Settings:
    """Thresholds and scan limits (`[seuils]` and `[lecture]`)."""

    open_threshold: float = 8.0
    candidate_threshold: float = 3.0
    subject_factor: float = 1.5
    reply_subject_factor: float = 1.0
    reporter_factor: float = 2.0
    max_chars: int = 20_000
    negation_window: int = 3
    gap: int = 3
    open_requires: tuple[frozenset[str], ...] = ()  # evidence sets of which one must be found to open
    # evidence sets that open only when the organisation chose to open on people's own words too
    # (`ouvrir_sur_les_mots`): off by default, since words alone have mistaken business mail for a claim
    open_on_words: bool = False
    open_requires_words: tuple[frozenset[str], ...] = ()
    # evidence sets of which any keeps a mail from being opened: a supplier's reminder (« courant »), a
    # grievance a known reporter passes on for someone else (« rapporte+signaleur »)
    open_never: tuple[frozenset[str], ...] = ()
    damp_evidence: frozenset[str] = frozenset({"diffusion"})  # evidence whose each phrase is a damping sign
    impersonal_factor: float = 1.0  # a text that never says « je » nor « vous »: not someone's own case
    broadcast_factor: float = 1.0  # per sign of a newsletter or mass mailing (at most three count)
    broadcast_words: int = 120  # a text at least this long with no personal word counts as a broadcast sign
    impersonal_words: int = 40  # a text shorter than this is not damped for being impersonal (a short report)
    personal: frozenset[str] = frozenset()  # stems of the words that show a person writing to someone
    # The rule « addressed to the organisation » (`[adresse]`): a case opens only when a grievance has a
    # reference to the organisation or what it provides within `address_sentences` sentences of it.
    address_required: bool = False
    address_sentences: int = 1
    grievance_evidence: frozenset[str] = frozenset()  # what a grievance shows (« demande », « insatisfaction »…)
    address_exempt: tuple[frozenset[str], ...] = ()  # evidence sets that open without it (a known reporter's incident)
    # The rule « about the organisation's own session » (`[session]`): a known reporter's incident opens
    # only when a reference to the session is nearer to it than a reference to another client.
    session_required: bool = False
    session_sentences: int = 1
    elsewhere_before_name: frozenset[str] = frozenset()  # « chez » before a capitalised name: another client
    own_names: frozenset[str] = frozenset()  # the organisation's name's words, never « another client »
    remedy_unless: frozenset[str] = frozenset()  # words of a writer acting for herself: a threat, not a clause
    # The learned model (`[modele]`): the file of its table, beside the vocabulary ("": none, as without
    # the table), the probability from which it puts a mail the vocabulary leaves before the director, and
    # the one below which it leaves a mail the vocabulary only half suspects (a score between the thresholds).
    model_file: str = ""
    model_alone: float = 0.4
    model_with_words: float = 0.3
    model_min_words: int = 25  # a shorter text gives the model too few words to judge: it abstains


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """One vocabulary phrase found in the mail, and what it counted for."""

    phrase: str  # as written in the vocabulary
    found: str  # as written in the mail (shortened when long)
    group: str
    kind: Kind | None
    weight: float  # contribution before the group's cap: weight x subject and reporter factors
    where: Literal["subject", "text"]


@dataclass(frozen=True)
class Assessment:
    """What the recogniser says about one mail.

    `outcome`: "open" (sure: open a case, acknowledge), "candidate" (put before the director « à
    qualifier »), "leave" (ordinary mail). `kind` is a guess even for "leave". `reasons` are the words
    of the mail that counted for it, strongest first, as the mail wrote them (for the digest line);
    `excerpt` is a short passage around the strongest one; `notes` explain in French what else
    decided (a tag, a spam flag). `matches` is everything found, for `mails list` and debugging.
    """

    outcome: Outcome
    kind: Kind
    score: float
    reasons: tuple[str, ...]
    excerpt: str
    notes: tuple[str, ...] = ()
    tag: str | None = None
    matches: tuple[Match, ...] = field(default=(), repr=False)
    # Whether it opens, or would were the organisation opening on words too (`open_on_words`): the
    # sender's own clear grievance, which a forward of someone else's mail must not be mistaken for.
    opens_on_words: bool = False

    def summary(self) -> str:
        """One French line for the digest: the words found, then the excerpt."""
        parts: list[str] = []
        if self.reasons:
            parts.append("mots relevés : " + ", ".join(f"« {reason} »" for reason in self.reasons))
        parts.extend(self.notes)
        if self.excerpt:
            parts.append(f"extrait : « {self.excerpt} »")
        return " ; ".join(parts)


# --- scanning -------------------------------------------------------------------------------------


@dataclass
class _Tokens:
    """One field of the mail as words: folded, stemmed, with spans in `source`."""

    source: str  # the NFC text the spans point into
    raws: list[str]
    stems: list[str]
    starts: list[int]
    ends: list[int]
    sentences: list[int] = field(default_factory=list)  # each word's sentence number
    clauses: list[int] = field(default_factory=list)  # each word's clause number (commas end clauses too)
    questions: set[int] = field(default_factory=set)  # the sentences that end with « ? »

    def __post_init__(self) -> None:
        """Number the sentences: punctuation or a blank line between two words ends one.

        Each gap between words is looked at once, so this is linear in the text however it is
        spaced; wrapped lines (one newline) do not end a sentence.
        """
        source, starts, ends = self.source, self.starts, self.ends
        sentence = clause = 0
        numbers = [0] * len(starts)
        clauses = [0] * len(starts)
        for k in range(1, len(starts)):
            gap = source[ends[k - 1] : starts[k]]
            if gap != " ":
                if any(mark in gap for mark in _SENTENCE_END) or gap.count("\n") >= 2:
                    if "?" in gap:
                        self.questions.add(sentence)
                    sentence += 1
                    clause += 1
                elif "," in gap or ":" in gap:
                    clause += 1
            numbers[k] = sentence
            clauses[k] = clause
        self.clauses = clauses
        if ends and "?" in source[ends[-1] : ends[-1] + 20]:
            self.questions.add(sentence)
        self.sentences = numbers

    def gap_has_sentence_end(self, left: int, right: int) -> bool:
        """Whether a sentence ends between word `left` and word `right`."""
        return self.sentences[left] != self.sentences[right]

    def show(self, first: int, last: int) -> str:
        """Words `first`..`last` as the mail wrote them, shortened for the director's eyes."""
        found = " ".join(self.source[self.starts[first] : self.ends[last]].split())
        if len(found) > FOUND_CHARS:
            found = found[: FOUND_CHARS - 1] + "…"
        return found


_WordEntry = tuple[str, tuple[_Phrase, ...], dict[str, tuple[_Phrase, ...]]]
"""A word's stem, the phrases that may start on it whatever follows, and those filed by next stem."""


@dataclass(frozen=True)
class _Hit:
    phrase: _Phrase
    first: int
    last: int
    negated: bool


def _scanner(settings: Settings, phrases: Sequence[_Phrase]) -> Recognizer | None:
    """A recogniser for one list of reference phrases, matched in the mail's words apart from the
    vocabulary so that they neither count in the score nor hide a grievance phrase inside them."""
    return Recognizer(settings, [phrases[0].group], phrases, frozenset(), {}) if phrases else None


class Recognizer:
    """A compiled vocabulary; `assess` reads one mail. Build it with `load_recognition`."""

    def __init__(
        self,
        settings: Settings,
        groups: Sequence[Group],
        phrases: Sequence[_Phrase],
        negators: frozenset[str],
        tags: Mapping[str, Kind],
        path: Path | None = None,
        address: Sequence[_Phrase] = (),
        scopes: Mapping[str, Sequence[_Phrase]] | None = None,
    ) -> None:
        self.settings = settings
        self.model: Model | None = None  # the learned second opinion, set by `load_recognition`
        self.groups: tuple[Group, ...] = tuple(groups)
        self.path = path
        self._phrases = tuple(phrases)
        self._negators = negators
        self._tags = dict(tags)
        self._by_stem: dict[str, list[_Phrase]] = {}
        self._by_head: dict[str, list[_Phrase]] = {}
        for phrase in self._phrases:
            first = phrase.elements[0]
            index = self._by_head if first.prefix else self._by_stem
            key = first.word[:3] if first.prefix else first.word
            index.setdefault(key, []).append(phrase)
        self._span_limit = max(
            (len(p.elements) + sum(e.gap for e in p.elements) for p in self._phrases),
            default=1,
        )
        # Per distinct folded word: its stem and the phrases that may start on it. Mail repeats the
        # same few thousand words; remembering them makes the scan one dict lookup per word.
        self._word_cache: dict[str, _WordEntry] = {}
        # The references to the organisation are scanned apart: matched in the same words, but never
        # hiding a grievance phrase inside them nor counting in the score.
        self._address: Recognizer | None = _scanner(settings, address)
        # Scanned apart in the same way: a clause offering a remedy (« recours »), references to the
        # organisation's own session (« session »), to another client (« ailleurs ») and a report that
        # changes nothing for the organisation (« sans_effet »).
        self._scopes: dict[str, Recognizer] = {
            name: scanner for name, phrases in (scopes or {}).items() if (scanner := _scanner(settings, phrases))
        }

    def __repr__(self) -> str:
        return f"Recognizer({len(self._phrases)} phrases in {len(self.groups)} groups from {self.path})"

    def features(self, subject: str, text: str) -> list[str]:
        """The learned model's features of a mail, read exactly as `assess` reads it (for training)."""
        subject_tokens = self._tokenize(subject[:SUBJECT_CHARS])
        text_tokens = self._tokenize(text[: self.settings.max_chars])
        return features(subject_tokens.stems, text_tokens.stems)

    # -- public --

    def assess(self, subject: str, text: str, *, sender_is_reporter: bool, spam: bool) -> Assessment:
        """Decide whether a mail is a claim or an incident, and say why.

        `text` is the mail's own new text (quotes and signature removed by the caller).
        `sender_is_reporter`: the sender is a known trainer or partner, whose incident words count
        `facteur_signaleur` times. `spam`: the receiving server flagged the mail (spam, DMARC fail);
        such a mail is never "open", at most "candidate".
        """
        settings = self.settings
        subject_tokens = self._tokenize(subject[:SUBJECT_CHARS])
        text_tokens = self._tokenize(text[: settings.max_chars])
        tag_kind, tag = self._subject_tag(subject[:SUBJECT_CHARS])

        subject_factor = settings.subject_factor
        if _is_reply(subject):
            subject_factor = settings.reply_subject_factor
        matches: list[Match] = []
        best: dict[_Phrase, Match] = {}
        first_text_hit: dict[_Phrase, _Hit] = {}
        grievances: set[int] = set()  # the text's sentences holding a grievance; -1 for the subject
        incidents: set[int] = set()  # the text's sentences holding an incident
        offers: list[str] = []  # the clauses offering a remedy, as the mail wrote them
        for where, tokens in (("subject", subject_tokens), ("text", text_tokens)):
            offered = self._offered(tokens, where, offers)
            for hit in self._hits(tokens, where):
                if hit.negated:
                    continue
                group = hit.phrase.group
                if group.weight > 0 and tokens.sentences[hit.first] in offered:
                    continue
                weight = group.weight
                if where == "subject":
                    weight *= subject_factor
                if sender_is_reporter and group.kind in INCIDENT_KINDS and group.reporter:
                    weight *= settings.reporter_factor
                if weight > 0 and tokens.sentences[hit.first] in tokens.questions:
                    weight *= group.question
                match = Match(
                    phrase=hit.phrase.text,
                    found=tokens.show(hit.first, hit.last),
                    group=group.name,
                    kind=group.kind,
                    weight=weight,
                    where="subject" if where == "subject" else "text",
                )
                matches.append(match)
                previous = best.get(hit.phrase)
                if previous is None or abs(weight) > abs(previous.weight):
                    best[hit.phrase] = match
                if where == "text":
                    first_text_hit.setdefault(hit.phrase, hit)
                if group.evidence in settings.grievance_evidence and weight >= 0.5 * group.weight > 0:
                    grievances.add(-1 if where == "subject" else tokens.sentences[hit.first])
                if where == "text" and group.kind in INCIDENT_KINDS and weight >= 0.5 * group.weight > 0:
                    incidents.add(tokens.sentences[hit.first])

        notes: list[str] = []
        if offers:
            notes.append(
                "une clause offre une voie de recours (« " + offers[0] + " ») : ce qu'elle contient n'est pas un grief"
            )
        evidence, signs, damping_groups = self._evidence(
            best, text_tokens, text[: settings.max_chars], sender_is_reporter, reply=_is_reply(subject)
        )
        damping = settings.broadcast_factor ** min(signs, 3)
        if signs > sum(damping_groups.values()) or any(group.evidence == "diffusion" for group in damping_groups):
            notes.append("ressemble à une lettre d'information, un envoi collectif ou une demande de formation")
        # The other damping groups say in their own (French, editable) words what they saw:
        # « Un évènement annoncé à l'avance… », « Réponse d'absence… ».
        notes.extend(
            f"atténué : {group.description}"
            for group in damping_groups
            if group.evidence != "diffusion" and group.description
        )
        if (
            "personnel" not in evidence
            and len(text_tokens.raws) >= settings.impersonal_words
            and not sender_is_reporter
        ):
            damping *= settings.impersonal_factor
        score, by_kind = self._score(best, sender_is_reporter, damping)
        kind = self._kind(by_kind, sender_is_reporter)
        outcome: Outcome
        worded = False  # would open on the sender's words alone (`ouvrir_si_mots`), not on `ouvrir_si`
        doubtful = False  # a candidate on its score alone, below the opening threshold
        if tag_kind is not None:
            kind = tag_kind
            outcome = "open"
            notes.append(f"étiquette {tag} dans l'objet")
        elif score >= settings.open_threshold:
            proven = not settings.open_requires or any(needed <= evidence for needed in settings.open_requires)
            worded = not proven and any(needed <= evidence for needed in settings.open_requires_words)
            if (proven or worded) and not signs and not any(never <= evidence for never in settings.open_never):
                outcome = "open"
                elsewhere = self._elsewhere(text_tokens, incidents, evidence)
                if elsewhere is not None:
                    outcome = "candidate"
                    notes.append(elsewhere)
                elif not self._addressed(text_tokens, grievances, evidence):
                    outcome = "candidate"
                    notes.append(
                        "le grief ne vise ni l'organisme ni ce qu'il fournit (aucune mention de vous, de votre"
                        " formation, de la session ou de l'organisme près de lui) : jamais ouvert seul"
                    )
            else:
                outcome = "candidate"
                notes.append("pas de demande, de plainte formelle ni de signalement assez nets pour ouvrir seul")
        elif score >= settings.candidate_threshold:
            outcome = "candidate"
            doubtful = True
        else:
            outcome = "leave"
        learned: list[str] = []  # the words that made the model put the mail before her
        learned_at: tuple[int, int] | None = None
        if self.model is not None and outcome != "open" and len(text_tokens.raws) >= settings.model_min_words:
            opinion = self.model.judge(features(subject_tokens.stems, text_tokens.stems))
            likely = f"{opinion.probability:.0%}".replace("%", " %")
            if outcome == "leave" and opinion.probability >= settings.model_alone:
                outcome = "candidate"
                learned, learned_at = self._shown(opinion.strongest, subject_tokens, text_tokens)
                notes.append(
                    f"modèle appris : ressemble à une réclamation ou un aléa (probabilité {likely}) sans expression"
                    " du vocabulaire assez nette"
                )
            elif doubtful and opinion.probability < settings.model_with_words:
                outcome = "leave"
                notes.append(
                    f"modèle appris : ressemble à un message ordinaire (probabilité {likely}), malgré les mots relevés"
                )
        if outcome != "leave" and sender_is_reporter and self._changes_nothing(text_tokens, incidents, evidence):
            outcome = "leave"
            notes.append("le signalement concerne un autre client et ne change rien pour l'organisme")
        if spam and outcome == "open":
            outcome = "candidate"
            notes.append("message signalé comme indésirable par le serveur : jamais ouvert automatiquement")
        opens_on_words = outcome == "open"
        if opens_on_words and worded and not settings.open_on_words:
            outcome = "candidate"
            notes.append(
                "grief net, à qualifier : seuls une réclamation formelle et l'aléa d'un formateur ou d'un"
                " partenaire connu ouvrent un dossier seuls (seuils.ouvrir_sur_les_mots)"
            )

        positive = sorted(
            (match for match in best.values() if match.weight > 0),
            key=lambda match: -match.weight,
        )
        reasons: list[str] = []
        for found in [*(match.found for match in positive), *learned]:
            if found not in reasons:
                reasons.append(found)
            if len(reasons) == MAX_REASONS:
                break
        if tag is not None:
            inner = "".join(_fold_text(tag[1:-1]).split())
            reasons = [tag, *(reason for reason in reasons if "".join(_fold_text(reason).split()) != inner)]
        excerpt = self._excerpt(text_tokens, positive, first_text_hit, learned_at)
        return Assessment(
            outcome=outcome,
            kind=kind,
            score=round(score, 2),
            reasons=tuple(reasons),
            excerpt=excerpt,
            notes=tuple(notes),
            tag=tag,
            matches=tuple(matches),
            opens_on_words=opens_on_words,
        )

    def _offered(self, tokens: _Tokens, where: str, offers: list[str]) -> set[int]:
        """The sentences of one field holding a clause that offers a remedy (`[recours]`).

        « En cas de désaccord, vous pouvez adresser une réclamation », « voies de recours », « you may
        contest »: the reader is offered a procedure, nobody complains. Like a negation, the clause
        cancels the grievance words in its scope (its whole sentence: « en cas de contestation de cette
        décision … adresser une réclamation » holds the grievance words on both sides), so the notice of
        an OPCO or of the tax office that names the training it funds is not a claim about it; the
        grievance words in the mail's other sentences still count. A sentence where the writer speaks for
        herself (`sauf_mots`: « en cas de litige, je saisirai le médiateur ») is a threat, not an offer.
        Appends what it found to `offers`.
        """
        scanner = self._scopes.get("recours")
        if scanner is None:
            return set()
        unless = self.settings.remedy_unless
        threats = {tokens.sentences[k] for k, raw in enumerate(tokens.raws) if raw in unless}
        found = [hit for hit in scanner._hits(tokens, where) if tokens.sentences[hit.first] not in threats]
        offers.extend(tokens.show(hit.first, hit.last) for hit in found[:1] if not offers)
        return {tokens.sentences[hit.first] for hit in found}

    def _reported_elsewhere(self, text: _Tokens, incidents: set[int]) -> bool | None:
        """Whether a known reporter's incidents happened at another client: None when the text says
        nothing of where, False when it names the session and no other client, or when a sentence of an
        incident is nearer to the organisation's session than to another client, True otherwise.

        Trainers work for several organisations and tell the director their week: « chez mon autre
        client la machine a lâché », « my other client has cancelled, their manager is off sick », a
        burn « chez Torréfaction Dupuis ». The incident is real, and not the organisation's. Its own
        session is what the report must name (the place, the group, « les stagiaires », « ce matin »,
        its name) nearer to the incident than another client, named (« mon autre client ») or a bare
        « chez » before a capitalised name (`[session].chez_nom`), which wins a tie. Right after a
        reference to the session, « chez » names where the organisation's session is held (« la session
        chez Renault », an intra-company session): not another client.
        """
        settings = self.settings
        near = settings.session_sentences

        def found(name: str) -> list[_Hit]:
            scanner = self._scopes.get(name)
            return scanner._hits(text, "text") if scanner else []

        own_hits = found("session")
        own = [text.sentences[hit.first] for hit in own_hits]
        strong = [text.sentences[hit.first] for hit in found("ailleurs")]
        named_session = {hit.last + 1 for hit in own_hits}  # « la session chez Renault »: ours, held there
        weak = [
            text.sentences[k]
            for k in range(len(text.raws) - 1)
            if text.raws[k] in settings.elsewhere_before_name
            and k not in named_session
            and text.source[text.starts[k + 1] : text.starts[k + 1] + 1].isupper()
            and text.raws[k + 1] not in settings.own_names
            and text.raws[k + 1] not in settings.personal
        ]
        if not strong and not weak:
            # no other client in sight: a reference to the session anywhere in the report is enough
            return False if own else None

        def distance(found: list[int], sentence: int) -> int:
            return min((abs(s - sentence) for s in found if abs(s - sentence) <= near), default=near + 1)

        # An incident told in the subject only (« Brûlure stagiaire »): where the text names the session.
        for sentence in incidents or set(own):
            ours = distance(own, sentence)
            if ours <= near and ours < distance(strong + weak, sentence):
                return False
        return True

    def _elsewhere(self, text: _Tokens, incidents: set[int], evidence: frozenset[str]) -> str | None:
        """Why a known reporter's incident about to open is not the organisation's (a French note),
        or None: the rule « about the organisation's own session » (`[session]`).

        Only for the mails the reporter's exemption of `[adresse]` would open (`sauf_si`); other
        grievances are judged by the rule « addressed to the organisation ».
        """
        settings = self.settings
        if not settings.session_required or not any(exempt <= evidence for exempt in settings.address_exempt):
            return None
        elsewhere = self._reported_elsewhere(text, incidents)
        if elsewhere is False:
            return None
        if elsewhere:
            return "l'incident est arrivé chez un autre client, pas à une session de l'organisme : jamais ouvert seul"
        return (
            "le signalement ne désigne pas une session de l'organisme (ni le lieu, ni le groupe, ni les"
            " stagiaires, ni le jour) : jamais ouvert seul"
        )

    def _changes_nothing(self, text: _Tokens, incidents: set[int], evidence: frozenset[str]) -> bool:
        """Whether a known reporter tells of another client's incident and says it changes nothing
        for the organisation (« pour toi rien ne change, je suis bien là lundi »): ordinary news."""
        scanner = self._scopes.get("sans_effet")
        if scanner is None or not self.settings.session_required or not (incidents or "incident" in evidence):
            return False
        return bool(scanner._hits(text, "text")) and self._reported_elsewhere(text, incidents) is True

    def _addressed(self, text: _Tokens, grievances: set[int], evidence: frozenset[str]) -> bool:
        """Whether a grievance is addressed to the organisation about its own service.

        A necessary condition for opening, never a reason to: the mail's own words must refer to the
        organisation or what it provides (« votre formation », « chez vous », « vous m'aviez promis »,
        its name, the session, the certificate it issued) near a grievance: in the same sentence or
        one beside it. A grievance with no such reference is someone else's (another organisation's,
        a friend's), a clause offering a right (« vous pouvez déposer une réclamation ») or a notice:
        put before the director at most. A grievance in the subject (« Plainte ») is the title the
        writer gave a mail sent to the organisation: addressed. A known reporter's incident keeps
        its own rule (`[adresse].sauf_si`): the trainer who writes that the machine broke down is
        reporting on the session. One more pass over the words, only for a mail about to be opened.
        """
        settings = self.settings
        if not settings.address_required or any(exempt <= evidence for exempt in settings.address_exempt):
            return True
        if self._address is None or not grievances:
            return False
        near = settings.address_sentences
        if -1 in grievances:
            return True
        referred = {text.sentences[hit.first] for hit in self._address._hits(text, "text")}
        return any(abs(sentence - grievance) <= near for sentence in referred for grievance in grievances)

    # -- reading --

    def _tokenize(self, text: str) -> _Tokens:
        if not text.isascii() and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)  # mail from some clients arrives decomposed
        folded = _fold_text(text)
        raws: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        if len(folded) == len(text):
            # The usual case: precomposed accents fold one character to one, so spans in the folded
            # text are spans in the mail.
            for found in _WORD.finditer(folded):
                raws.append(found.group())
                starts.append(found.start())
                ends.append(found.end())
        else:
            for found in _WORD.finditer(text):
                raws.append(_fold_text(found.group()))
                starts.append(found.start())
                ends.append(found.end())
        stems = [self._word(raw)[0] for raw in raws]
        return _Tokens(text, raws, stems, starts, ends)

    def _word(self, raw: str) -> _WordEntry:
        """The stem of a folded word and the phrases that may start on it, remembered.

        Phrases whose second word follows directly and is a whole word are filed under that word's
        stem, so a common first word (« pas », « je ») costs one more lookup, not a try per phrase.
        """
        known = self._word_cache.get(raw)
        if known is not None:
            return known
        if len(raw) > MAX_WORD:
            result: _WordEntry = ("", (), {})
        else:
            stem = _stem(raw)
            starting = list(self._by_stem.get(stem, ()))
            starting.extend(p for p in self._by_head.get(raw[:3], ()) if raw.startswith(p.elements[0].word))
            others: list[_Phrase] = []
            by_next: dict[str, list[_Phrase]] = {}
            for phrase in starting:
                if len(phrase.elements) > 1 and not phrase.elements[1].prefix and phrase.elements[1].gap == 0:
                    by_next.setdefault(phrase.elements[1].word, []).append(phrase)
                else:
                    others.append(phrase)
            result = (stem, tuple(others), {word: tuple(found) for word, found in by_next.items()})
        if len(self._word_cache) >= _CACHE_LIMIT:
            self._word_cache.clear()
        self._word_cache[raw] = result
        return result

    def _hits(self, tokens: _Tokens, where: str) -> list[_Hit]:
        """Every phrase occurrence in one field, less those inside a longer one found at that place."""
        raws = tokens.raws
        count = len(raws)
        gap_limit = self.settings.gap
        found: list[_Hit] = []
        seen: dict[_Phrase, int] = {}
        for i in range(count):
            _, others, by_next = self._word(raws[i])
            if by_next and i + 1 < count:
                starting = others + by_next.get(tokens.stems[i + 1], ())
            else:
                starting = others
            if not starting:
                continue
            for phrase in starting:
                group = phrase.group
                if group.where != "both" and group.where != where:
                    continue
                tries = seen.get(phrase, 0)
                # A phrase counts once: a few places found are enough to choose from, and a phrase
                # tried at many places without matching stops being tried (hostile repetition).
                if tries >= _MAX_TRIES or tries % _TRY_STEP >= 3:
                    continue
                last = self._match_rest(phrase, tokens, i, count, gap_limit)
                if last < 0:
                    seen[phrase] = tries + _TRY_STEP
                    continue
                seen[phrase] = tries + 1
                found.append(_Hit(phrase, i, last, group.negatable and self._negated(tokens, i)))
        # Longest first: "toujours pas reçu" wins over the "pas reçu" inside it, "pas satisfait" over
        # "satisfait", "fausse alerte" over "fausse". Spans are bounded by the longest phrase, so the
        # containment check looks back a bounded distance.
        found.sort(key=lambda hit: (hit.first - hit.last, -abs(hit.phrase.group.weight), hit.phrase.index))
        widest_end: dict[int, int] = {}
        kept: list[_Hit] = []
        for hit in found:
            contained = any(
                widest_end.get(start, -1) >= hit.last
                for start in range(max(0, hit.first - self._span_limit), hit.first + 1)
            )
            if contained:
                continue
            kept.append(hit)
            # A negated phrase counts for nothing, so it hides nothing: in « rien n'a été recrédité »
            # the denied « a été recrédité » (settled) leaves the demand « recrédité » to be read.
            if not hit.negated and widest_end.get(hit.first, -1) < hit.last:
                widest_end[hit.first] = hit.last
        return kept

    @staticmethod
    def _match_rest(phrase: _Phrase, tokens: _Tokens, first: int, count: int, gap_limit: int) -> int:
        """The index of the phrase's last word when it matches from word `first`, else -1."""
        position = first
        raws, stems = tokens.raws, tokens.stems
        for element in phrase.elements[1:]:
            word = element.word
            if element.gap == 0:
                candidate = position + 1
                if candidate >= count:
                    return -1
                if (raws[candidate].startswith(word)) if element.prefix else (stems[candidate] == word):
                    position = candidate
                    continue
                return -1
            for candidate in range(position + 1, min(count, position + 2 + min(element.gap, gap_limit))):
                if (raws[candidate].startswith(word)) if element.prefix else (stems[candidate] == word):
                    position = candidate
                    break
            else:
                return -1
        if position > first and tokens.gap_has_sentence_end(first, position):
            return -1
        return position

    def _negated(self, tokens: _Tokens, first: int) -> bool:
        """Whether a negation word comes shortly before word `first`, in the same clause.

        « sans mon accord, c'est grave » : the comma ends what « sans » denies.
        """
        window = self.settings.negation_window
        clauses = tokens.clauses
        for k in range(first - 1, max(-1, first - window - 1), -1):
            if clauses[k] != clauses[first]:
                return False
            if tokens.stems[k] in self._negators:
                return True
        return False

    def _subject_tag(self, subject: str) -> tuple[Kind | None, str | None]:
        """The first incident tag in the subject ("[ALÉAS]"), as its kind and as written."""
        position = 0
        while True:
            opening = subject.find("[", position)
            if opening < 0:
                return None, None
            closing = subject.find("]", opening + 1)
            if closing < 0:
                return None, None
            inner = subject[opening + 1 : closing]
            if "[" not in inner:
                kind = self._tags.get("".join(_fold_text(inner).split()))
                if kind is not None:
                    return kind, subject[opening : closing + 1]
            position = opening + 1

    # -- deciding --

    def _evidence(
        self, best: Mapping[_Phrase, Match], tokens: _Tokens, text: str, reporter: bool, *, reply: bool
    ) -> tuple[frozenset[str], int, dict[Group, int]]:
        """What the matches show (`preuve` of their groups), how many signs of a mass mailing or of an
        announcement, and how many of those signs each damping group gave (in the order found).

        Evidence counts only from a match at half its group's weight or more (not one in a question).
        « signaleur » is the sender being a known reporter, « personnel » the text saying « je »,
        « nous » or « vous ». Signs of a broadcast: each phrase of a group whose `preuve` is in
        `attenuer_si` (« diffusion », « offre »),
        several links, a list of three lines or more, a long text with no personal word. Each
        count is one pass over the capped text. A reply's subject (« Re: Plainte de M. X ») was
        written for another message: it shows nothing about this one.
        """
        settings = self.settings
        shown: set[str] = set()
        signs = 0
        damping_groups: dict[Group, int] = {}
        for phrase, match in best.items():
            group = phrase.group
            if reply and match.where == "subject":
                continue
            if group.evidence in settings.damp_evidence:
                signs += 1
                damping_groups[group] = damping_groups.get(group, 0) + 1
            elif group.evidence is not None and (group.weight <= 0 or match.weight >= 0.5 * group.weight):
                shown.add(group.evidence)
        if reporter:
            shown.add("signaleur")
        personal = settings.personal
        if any(raw in personal for raw in tokens.raws):
            shown.add("personnel")
        elif len(tokens.raws) >= settings.broadcast_words:
            signs += 1
        if text.count("http") + text.count("www.") >= 2:
            signs += 1
        listed = 0
        for line in text.splitlines():
            head = line.lstrip()[:3]
            if head[:1] in _BULLETS or (head[:1].isdigit() and head[1:2] in ").") or head[:2] in _BULLET_PAIRS:
                listed += 1
        if listed >= 3:
            signs += 1
        return frozenset(shown), signs, damping_groups

    def _score(
        self, best: Mapping[_Phrase, Match], reporter: bool, damping: float = 1.0
    ) -> tuple[float, dict[Kind, float]]:
        """The total, and the positive part per kind; each group's sum is held within its cap.

        `damping` multiplies what counts for a case (not what counts against one): a newsletter or
        a text that is nobody's own case weighs less.
        """
        per_group: dict[Group, float] = {}
        for phrase, match in best.items():
            group = phrase.group
            per_group[group] = per_group.get(group, 0.0) + match.weight
        total = 0.0
        by_kind = dict.fromkeys(KINDS, 0.0)
        for group, value in per_group.items():
            if group.cap is not None:
                cap = group.cap
                if reporter and group.kind in INCIDENT_KINDS and group.reporter:
                    cap *= self.settings.reporter_factor
                value = max(-cap, min(cap, value))
            if value > 0:
                value *= damping
            total += value
            if group.kind is not None and value > 0:
                by_kind[group.kind] += value
        return total, by_kind

    @staticmethod
    def _kind(by_kind: Mapping[Kind, float], reporter: bool) -> Kind:
        """The likely kind: incidents from known reporters, claims from everybody else.

        A learner who writes that the projector failed and the trainer never came is making a claim;
        the same words from the trainer are an aléa. The director can requalify either way.
        """
        claim = by_kind[Kind.RECLAMATION]
        alea, difficulty = by_kind[Kind.ALEA], by_kind[Kind.DIFFICULTE]
        incident = alea + difficulty
        if incident > 0 and (incident >= claim if reporter else incident > 2 * claim):
            return Kind.ALEA if alea >= difficulty else Kind.DIFFICULTE
        return Kind.RECLAMATION

    @staticmethod
    def _shown(
        strongest: Sequence[tuple[str, float]], subject: _Tokens, text: _Tokens
    ) -> tuple[list[str], tuple[int, int] | None]:
        """The model's strongest features as the mail wrote them (« toujours pas », not « toujour pas »),
        and the words of the first one found in the text, for the excerpt."""
        shown: list[str] = []
        anchor: tuple[int, int] | None = None
        for feature, _ in strongest:
            wanted = feature.split(SEPARATOR)
            for tokens in (subject, text):
                stems = tokens.stems
                at = next(
                    (
                        k
                        for k in range(len(stems) - len(wanted) + 1)
                        if stems[k] == wanted[0] and stems[k : k + len(wanted)] == wanted
                    ),
                    None,
                )
                if at is not None:
                    shown.append(tokens.show(at, at + len(wanted) - 1))
                    if tokens is text and anchor is None:
                        anchor = (at, at + len(wanted) - 1)
                    break
        return shown, anchor

    @staticmethod
    def _excerpt(
        tokens: _Tokens,
        positive: Sequence[Match],
        hits: Mapping[_Phrase, _Hit],
        fallback: tuple[int, int] | None = None,
    ) -> str:
        """A short passage of the text around the strongest text match, else around the words that
        made the model suspect the mail (`fallback`), else the text's start."""
        source = tokens.source
        span = fallback
        for match in positive:
            if match.where == "text":
                anchor = next((hit for phrase, hit in hits.items() if phrase.text == match.phrase), None)
                if anchor is not None:
                    span = (anchor.first, anchor.last)
                    break
        if span is None:
            start, end = 0, min(len(source), EXCERPT_BEFORE + EXCERPT_AFTER)
        else:
            start = max(0, tokens.starts[span[0]] - EXCERPT_BEFORE)
            end = min(len(source), tokens.ends[span[1]] + EXCERPT_AFTER)
        excerpt = " ".join(source[start:end].split())
        if start > 0:
            excerpt = "…" + excerpt
        if end < len(source):
            excerpt += "…"
        return excerpt


# --- loading --------------------------------------------------------------------------------------


def _check_keys(table: Mapping[str, object], allowed: Sequence[str], key: str) -> None:
    for name in table:
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            where = f"{key}.{name}" if key else name
            raise InvalidEntry(where, f"unknown key ({hint}expected one of {', '.join(allowed)})")


def _table(document: Mapping[str, object], name: str) -> Mapping[str, object]:
    value = document.get(name, {})
    if not isinstance(value, dict):
        raise InvalidEntry(name, f"expected a table, got {toml_type_name(value)}")
    return value


def _number(table: Mapping[str, object], name: str, key: str, default: float, *, low: float) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEntry(f"{key}.{name}", f"expected a number, got {toml_type_name(value)}")
    if value < low:
        raise InvalidEntry(f"{key}.{name}", f"expected a number of at least {low:g}, got {value:g}")
    return float(value)


def _integer(table: Mapping[str, object], name: str, key: str, default: int, *, low: int, high: int) -> int:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEntry(f"{key}.{name}", f"expected a whole number, got {toml_type_name(value)}")
    if not low <= value <= high:
        raise InvalidEntry(f"{key}.{name}", f"expected a whole number from {low} to {high}, got {value}")
    return value


def _string_list(value: object, key: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidEntry(key, f"expected an array of strings, got {toml_type_name(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidEntry(f"{key}[{index}]", f"expected a string, got {toml_type_name(item)}")
    return value


def _settings(document: Mapping[str, object]) -> Settings:
    thresholds = _table(document, "seuils")
    _check_keys(
        thresholds,
        (
            "ouvrir",
            "proposer",
            "facteur_objet",
            "facteur_objet_reponse",
            "facteur_signaleur",
            "ouvrir_si",
            "ouvrir_sur_les_mots",
            "ouvrir_si_mots",
            "ouvrir_jamais_si",
            "attenuer_si",
            "facteur_impersonnel",
            "facteur_diffusion",
            "mots_diffusion",
            "mots_impersonnel",
        ),
        "seuils",
    )
    reading = _table(document, "lecture")
    _check_keys(reading, ("caracteres", "fenetre_negation", "ecart"), "lecture")
    defaults = Settings()
    open_threshold = _number(thresholds, "ouvrir", "seuils", defaults.open_threshold, low=0.1)
    candidate = _number(thresholds, "proposer", "seuils", defaults.candidate_threshold, low=0.1)
    if candidate > open_threshold:
        raise InvalidEntry("seuils.proposer", f"must not exceed seuils.ouvrir ({open_threshold:g}), got {candidate:g}")
    return Settings(
        open_threshold=open_threshold,
        candidate_threshold=candidate,
        subject_factor=_number(thresholds, "facteur_objet", "seuils", defaults.subject_factor, low=0),
        reply_subject_factor=_number(
            thresholds, "facteur_objet_reponse", "seuils", defaults.reply_subject_factor, low=0
        ),
        reporter_factor=_number(thresholds, "facteur_signaleur", "seuils", defaults.reporter_factor, low=0),
        max_chars=_integer(reading, "caracteres", "lecture", defaults.max_chars, low=100, high=1_000_000),
        negation_window=_integer(reading, "fenetre_negation", "lecture", defaults.negation_window, low=0, high=MAX_GAP),
        gap=_integer(reading, "ecart", "lecture", defaults.gap, low=0, high=MAX_GAP),
        open_requires=_evidence_sets(thresholds, "ouvrir_si"),
        open_on_words=_flag(thresholds, "ouvrir_sur_les_mots", "seuils", default=False),
        open_requires_words=_evidence_sets(thresholds, "ouvrir_si_mots"),
        open_never=_evidence_sets(thresholds, "ouvrir_jamais_si"),
        damp_evidence=frozenset(_string_list(thresholds.get("attenuer_si", ["diffusion"]), "seuils.attenuer_si")),
        impersonal_factor=_number(thresholds, "facteur_impersonnel", "seuils", defaults.impersonal_factor, low=0),
        broadcast_factor=_number(thresholds, "facteur_diffusion", "seuils", defaults.broadcast_factor, low=0),
        broadcast_words=_integer(
            thresholds, "mots_diffusion", "seuils", defaults.broadcast_words, low=10, high=1_000_000
        ),
        impersonal_words=_integer(
            thresholds, "mots_impersonnel", "seuils", defaults.impersonal_words, low=0, high=1_000_000
        ),
    )


def _model_settings(document: Mapping[str, object], settings: Settings) -> Settings:
    """`[modele]`: the learned model's table and its two thresholds; no table, no model."""
    table = _table(document, "modele")
    _check_keys(table, ("fichier", "seul", "avec_mots", "mots_min"), "modele")
    if not table:
        return replace(settings, model_file="")
    name = table.get("fichier", "")
    if not isinstance(name, str):
        raise InvalidEntry("modele.fichier", f"expected a file name, got {toml_type_name(name)}")
    if name and (name != Path(name).name or name.startswith(".")):
        raise InvalidEntry("modele.fichier", f"expected a file name beside the vocabulary, got {name!r}")
    alone = _number(table, "seul", "modele", Settings.model_alone, low=0)
    with_words = _number(table, "avec_mots", "modele", Settings.model_with_words, low=0)
    for key, value in (("seul", alone), ("avec_mots", with_words)):
        if value > 1:
            raise InvalidEntry(f"modele.{key}", f"expected a probability between 0 and 1, got {value:g}")
    if with_words > alone:
        raise InvalidEntry("modele.avec_mots", f"must not exceed modele.seul ({alone:g}), got {with_words:g}")
    least = _integer(table, "mots_min", "modele", Settings.model_min_words, low=1, high=1_000_000)
    return replace(settings, model_file=name, model_alone=alone, model_with_words=with_words, model_min_words=least)


def _evidence_sets(table: Mapping[str, object], name: str, key: str = "seuils") -> tuple[frozenset[str], ...]:
    """`ouvrir_si`, `ouvrir_jamais_si`, `sauf_si`: each item names evidence that must all be there (« a+b »)."""
    return tuple(
        frozenset(part.strip() for part in item.split("+"))
        for item in _string_list(table.get(name, []), f"{key}.{name}")
    )


def _words(text: str) -> list[str]:
    return [_fold_text(word) for word in _WORD.findall(unicodedata.normalize("NFC", text))]


def _compile_phrase(text: str, key: str, gap: int) -> tuple[_Element, ...]:
    """A phrase as written in the file (« toujours pas .. reçu », « rembours* ») as elements."""
    elements: list[_Element] = []
    pending_gap = 0
    pieces = text.split()
    if not pieces:
        raise InvalidEntry(key, "empty phrase")
    for number, piece in enumerate(pieces):
        if piece == "..":
            if not elements or number == len(pieces) - 1 or pending_gap:
                raise InvalidEntry(key, f"'..' must stand between two words, in {text!r}")
            pending_gap = gap
            continue
        prefix = piece.endswith("*")
        body = piece[:-1] if prefix else piece
        if "*" in body:
            raise InvalidEntry(key, f"'*' may only end a word, in {text!r}")
        words = _words(body)
        if not words:
            raise InvalidEntry(key, f"{piece!r} holds no letter or digit, in {text!r}")
        for position, word in enumerate(words):
            is_prefix = prefix and position == len(words) - 1
            if is_prefix and len(word) < 3:
                raise InvalidEntry(key, f"a prefix needs at least 3 letters before '*', in {text!r}")
            elements.append(_Element(word if is_prefix else _stem(word), is_prefix, pending_gap))
            pending_gap = 0
    if len(elements) > MAX_PHRASE_WORDS:
        raise InvalidEntry(key, f"at most {MAX_PHRASE_WORDS} words in a phrase, got {len(elements)} in {text!r}")
    return tuple(elements)


GROUP_KEYS = (
    "nom",
    "description",
    "type",
    "poids",
    "negation",
    "ou",
    "plafond",
    "question",
    "preuve",
    "signaleur",
    "expressions",
)
WHERE = {"objet": "subject", "texte": "text", "tout": "both"}


def _group(table: object, key: str, gap: int, first_index: int) -> tuple[Group, list[_Phrase]]:
    if not isinstance(table, dict):
        raise InvalidEntry(key, f"expected a table, got {toml_type_name(table)}")
    _check_keys(table, GROUP_KEYS, key)
    for required in ("nom", "poids", "expressions"):
        if required not in table:
            raise InvalidEntry(f"{key}.{required}", "required key is missing")
    name = table["nom"]
    if not isinstance(name, str) or not name.strip():
        raise InvalidEntry(f"{key}.nom", f"expected a non-empty string, got {toml_type_name(name)}")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise InvalidEntry(f"{key}.description", f"expected a string, got {toml_type_name(description)}")
    kind_value = table.get("type")
    kind: Kind | None = None
    if kind_value is not None:
        folded = _fold_text(kind_value).strip() if isinstance(kind_value, str) else None
        if folded not in KINDS:
            raise InvalidEntry(f"{key}.type", f"expected one of {', '.join(KINDS)}, got {kind_value!r}")
        kind = KINDS[KINDS.index(folded)]
    weight = table["poids"]
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise InvalidEntry(f"{key}.poids", f"expected a number, got {toml_type_name(weight)}")
    negatable = table.get("negation", True)
    if not isinstance(negatable, bool):
        raise InvalidEntry(f"{key}.negation", f"expected true or false, got {toml_type_name(negatable)}")
    where_value = table.get("ou", "tout")
    if where_value not in WHERE:
        raise InvalidEntry(f"{key}.ou", f"expected one of {', '.join(WHERE)}, got {where_value!r}")
    cap: float | None = None
    if "plafond" in table:
        cap = _number(table, "plafond", key, 0.0, low=0.0)
    question = _number(table, "question", key, 1.0, low=0.0)
    reporter = table.get("signaleur", True)
    if not isinstance(reporter, bool):
        raise InvalidEntry(f"{key}.signaleur", f"expected true or false, got {toml_type_name(reporter)}")
    evidence = table.get("preuve")
    if evidence is not None and (not isinstance(evidence, str) or not evidence.strip() or "+" in evidence):
        raise InvalidEntry(f"{key}.preuve", f"expected a word naming what the group shows, got {evidence!r}")
    phrases_value = _string_list(table["expressions"], f"{key}.expressions")
    if not phrases_value:
        raise InvalidEntry(f"{key}.expressions", "empty array: a group needs at least one phrase")
    group = Group(
        name=name.strip(),
        description=description,
        kind=kind,
        weight=float(weight),
        negatable=negatable,
        where=WHERE[where_value],  # type: ignore[arg-type]
        cap=cap,
        question=question,
        evidence=evidence.strip() if isinstance(evidence, str) else None,
        reporter=reporter,
    )
    phrases = [
        _Phrase(text, _compile_phrase(text, f"{key}.expressions[{number}]", gap), group, first_index + number)
        for number, text in enumerate(phrases_value)
    ]
    return group, phrases


ADDRESS_KEYS = ("obligatoire", "phrases", "grief", "sauf_si", "expressions")
SESSION_KEYS = ("obligatoire", "phrases", "expressions", "ailleurs", "chez_nom", "sans_effet")
REMEDY_KEYS = ("expressions", "sauf_mots")


def _references(
    table: Mapping[str, object], name: str, key: str, settings: Settings, first_index: int, description: str
) -> list[_Phrase]:
    """A list of reference phrases (`key.name`), each compiled alone and named in its errors."""
    group = _reference_group(key, name, description)
    texts = _string_list(table.get(name, []), f"{key}.{name}")
    return [
        _Phrase(text, _compile_phrase(text, f"{key}.{name}[{number}]", settings.gap), group, first_index + number)
        for number, text in enumerate(texts)
    ]


def _switch(table: Mapping[str, object], key: str) -> bool:
    """A structural rule's `obligatoire` (on unless switched off)."""
    return _flag(table, "obligatoire", key, default=True)


def _flag(table: Mapping[str, object], name: str, key: str, *, default: bool) -> bool:
    value = table.get(name, default)
    if not isinstance(value, bool):
        raise InvalidEntry(f"{key}.{name}", f"expected true or false, got {toml_type_name(value)}")
    return value


def _single_words(table: Mapping[str, object], name: str, key: str) -> list[str]:
    """A list of single words (`key.name`), folded as the mail's words are."""
    found: list[str] = []
    for number, word in enumerate(_string_list(table.get(name, []), f"{key}.{name}")):
        words = _words(word)
        if len(words) != 1:
            raise InvalidEntry(f"{key}.{name}[{number}]", f"expected one word, got {word!r}")
        found.append(words[0])
    return found


def _reference_group(key: str, name: str, description: str = "") -> Group:
    """The weightless group of a list of references: found, never counted."""
    return Group(
        name=key if name == "expressions" else f"{key}.{name}",
        description=description,
        kind=None,
        weight=0.0,
        negatable=False,
        where="both",
        cap=None,
        evidence=key,
    )


def _name_phrase(organisation: str | None, group: Group, index: int) -> list[_Phrase]:
    """The organisation's name as one more reference phrase (its first words)."""
    name_words = _words(organisation or "")[:MAX_PHRASE_WORDS]
    if not name_words:
        return []
    elements = tuple(
        _Element(word if len(word) <= MAX_WORD else word[:MAX_WORD], False, 0) for word in map(_stem, name_words)
    )
    return [_Phrase(organisation or "", elements, group, index)]


def _address(
    document: Mapping[str, object], settings: Settings, organisation: str | None, first_index: int
) -> tuple[Settings, list[_Phrase]]:
    """The `[adresse]` table: the rule « addressed to the organisation » and its references.

    The organisation's name (`organisation.name` in the configuration) is one more reference, so a
    claimant who writes « chez Cafémétrie » or « the Cafémétrie course » is understood without a
    vocabulary edit; at most its first `MAX_PHRASE_WORDS` words are compared.
    """
    table = _table(document, "adresse")
    if not table:
        return settings, []
    _check_keys(table, ADDRESS_KEYS, "adresse")
    settings = replace(
        settings,
        address_required=_switch(table, "adresse"),
        address_sentences=_integer(table, "phrases", "adresse", 1, low=0, high=3),
        grievance_evidence=frozenset(_string_list(table.get("grief", []), "adresse.grief")),
        address_exempt=_evidence_sets(table, "sauf_si", "adresse"),
    )
    description = "Ce qui désigne l'organisme ou ce qu'il fournit."
    phrases = _references(table, "expressions", "adresse", settings, first_index, description)
    phrases += _name_phrase(
        organisation, _reference_group("adresse", "expressions", description), first_index + len(phrases)
    )
    if settings.address_required and not phrases:
        raise InvalidEntry("adresse.expressions", "empty: with obligatoire = true, no case could ever open")
    return settings, phrases


def _session(
    document: Mapping[str, object], settings: Settings, organisation: str | None, first_index: int
) -> tuple[Settings, dict[str, list[_Phrase]]]:
    """The `[session]` table: the rule « a known reporter's incident is about the organisation's own
    session » (its references, another client's, and what says the report changes nothing for us),
    and the `[recours]` table: the clauses offering a remedy. The organisation's name is a reference
    to its session, and never « another client » after « chez »."""
    scopes: dict[str, list[_Phrase]] = {}
    remedy = _table(document, "recours")
    _check_keys(remedy, REMEDY_KEYS, "recours")
    scopes["recours"] = _references(remedy, "expressions", "recours", settings, first_index, "")
    settings = replace(settings, remedy_unless=frozenset(_single_words(remedy, "sauf_mots", "recours")))
    first_index += len(scopes["recours"])
    table = _table(document, "session")
    if not table:
        return settings, scopes
    _check_keys(table, SESSION_KEYS, "session")
    settings = replace(
        settings,
        session_required=_switch(table, "session"),
        session_sentences=_integer(table, "phrases", "session", 1, low=0, high=3),
        elsewhere_before_name=frozenset(_single_words(table, "chez_nom", "session")),
        own_names=frozenset(_words(organisation or "")),
    )
    for name, scope in (("expressions", "session"), ("ailleurs", "ailleurs"), ("sans_effet", "sans_effet")):
        scopes[scope] = _references(table, name, "session", settings, first_index, "")
        first_index += len(scopes[scope])
    scopes["session"] += _name_phrase(organisation, _reference_group("session", "expressions"), first_index)
    if settings.session_required and not scopes["session"]:
        raise InvalidEntry("session.expressions", "empty: with obligatoire = true, no reported incident could open")
    return settings, scopes


def parse_recognition(
    document: Mapping[str, object], path: Path, organisation: str | None = None, open_on_words: bool | None = None
) -> Recognizer:
    """Compile a vocabulary already read from TOML; `path` names it in errors, `organisation` is the
    organisation's name, a reference to it in the rule « addressed to the organisation ».
    `open_on_words`, when given (the configuration's `imap.open_on_words`), replaces the vocabulary's
    `seuils.ouvrir_sur_les_mots`: one switch in the configuration, without copying the whole file."""
    try:
        _check_keys(
            document,
            (
                "seuils",
                "lecture",
                "negation",
                "personne",
                "adresse",
                "session",
                "recours",
                "etiquettes",
                "modele",
                "groupe",
            ),
            "",
        )
        settings = _model_settings(document, _settings(document))
        negation = _table(document, "negation")
        _check_keys(negation, ("mots",), "negation")
        negators = {_stem(word) for word in _single_words(negation, "mots", "negation")}
        person = _table(document, "personne")
        _check_keys(person, ("mots",), "personne")
        personal = set(_single_words(person, "mots", "personne"))
        settings = replace(settings, personal=frozenset(personal))
        if open_on_words is not None:
            settings = replace(settings, open_on_words=open_on_words)
        tags: dict[str, Kind] = {}
        tag_table = _table(document, "etiquettes")
        _check_keys(tag_table, [kind.value for kind in KINDS], "etiquettes")
        for kind_name, values in tag_table.items():
            kind = KINDS[KINDS.index(kind_name)]
            for number, tag in enumerate(_string_list(values, f"etiquettes.{kind_name}")):
                canonical = "".join(_fold_text(tag).split())
                if not canonical or "[" in canonical or "]" in canonical:
                    raise InvalidEntry(f"etiquettes.{kind_name}[{number}]", f"expected a tag's word, got {tag!r}")
                tags[canonical] = kind
        tables = document.get("groupe", [])
        if not isinstance(tables, list) or not tables:
            raise InvalidEntry("groupe", "expected at least one [[groupe]] table")
        groups: list[Group] = []
        phrases: list[_Phrase] = []
        names: dict[str, int] = {}
        for number, table in enumerate(tables):
            group, group_phrases = _group(table, f"groupe[{number}]", settings.gap, len(phrases))
            if group.name in names:
                earlier = f"groupe[{names[group.name]}]"
                raise InvalidEntry(f"groupe[{number}].nom", f"duplicate group name {group.name!r} ({earlier})")
            names[group.name] = number
            groups.append(group)
            phrases.extend(group_phrases)
        known = {group.evidence for group in groups if group.evidence} | {"signaleur", "personnel"}
        settings, address = _address(document, settings, organisation, len(phrases))
        settings, scopes = _session(document, settings, organisation, len(phrases) + len(address))
        for name, values in (("grief", [settings.grievance_evidence]), ("sauf_si", settings.address_exempt)):
            for number, needed in enumerate(values):
                unknown = sorted(needed - known)
                if unknown:
                    raise InvalidEntry(
                        f"adresse.{name}" + (f"[{number}]" if name == "sauf_si" else ""),
                        f"unknown evidence {', '.join(unknown)} (known: {', '.join(sorted(known))})",
                    )
        unknown_evidence = sorted(settings.damp_evidence - known - {"diffusion"})
        if unknown_evidence:
            raise InvalidEntry(
                "seuils.attenuer_si",
                f"unknown evidence {', '.join(unknown_evidence)} (known: {', '.join(sorted(known))})",
            )
        for name, sets in (
            ("ouvrir_si", settings.open_requires),
            ("ouvrir_si_mots", settings.open_requires_words),
            ("ouvrir_jamais_si", settings.open_never),
        ):
            for number, needed in enumerate(sets):
                # « diffusion » is also what links and lists show, group or not: never unknown to avoid.
                unknown = sorted(needed - known - ({"diffusion"} if name == "ouvrir_jamais_si" else set()))
                if unknown or not all(needed):
                    raise InvalidEntry(
                        f"seuils.{name}[{number}]",
                        f"unknown evidence {', '.join(unknown) or '(empty)'!s} (known: {', '.join(sorted(known))})",
                    )
    except InvalidEntry as fault:
        raise RecognitionError(path, fault.key, fault.reason) from None
    return Recognizer(settings, groups, phrases, frozenset(negators), tags, path, address, scopes)


def load_recognition(
    source: Path | Sequence[Path], organisation: str | None = None, open_on_words: bool | None = None
) -> Recognizer:
    """Load the vocabulary from a file, or from rules directories given lowest priority first.

    With directories, the last one holding `recognition/vocabulary.toml` wins, so a user's copy
    replaces the shipped one whole (as a user's rule file replaces the shipped file of that name).
    None holding it is an error: a shared mailbox without recognition would silently miss claims.
    The learned model's table (`[modele] fichier`) is looked for the same way, beside the vocabulary
    or in the last directory holding it, so a copied vocabulary keeps the shipped table.
    """
    directories: list[Path] = []
    if isinstance(source, (str, Path)) and not Path(source).is_dir():
        path = Path(source)
    else:
        directories = [Path(source)] if isinstance(source, (str, Path)) else [Path(d) for d in source]
        found = [d / VOCABULARY_PATH for d in directories if (d / VOCABULARY_PATH).exists()]
        if not found:
            where = ", ".join(str(d) for d in directories) or "(no directory)"
            raise RecognitionError(Path(where), None, f"no {VOCABULARY_PATH} in the rules directories")
        path = found[-1]
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise RecognitionError(path, None, f"invalid TOML: {error}") from None
    except UnicodeDecodeError:
        raise RecognitionError(path, None, "invalid TOML: the file is not UTF-8 text") from None
    except OSError as error:
        raise RecognitionError(path, None, f"cannot read the file: {error.strerror or error}") from None
    recognizer = parse_recognition(document, path, organisation, open_on_words)
    name = recognizer.settings.model_file
    if name:
        places = [path.parent / name, *(d / VOCABULARY_PATH.parent / name for d in directories)]
        found = [place for place in places if place.is_file()]
        if not found:
            raise RecognitionError(path, "modele.fichier", f"no file {name!r} beside the vocabulary")
        model_path = found[-1]
        try:
            text = model_path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RecognitionError(model_path, None, "the file is not UTF-8 text") from None
        except OSError as error:
            raise RecognitionError(model_path, None, f"cannot read the file: {error.strerror or error}") from None
        try:
            recognizer.model = parse_model(text)
        except InvalidEntry as fault:
            raise RecognitionError(model_path, fault.key, fault.reason) from None
    return recognizer
