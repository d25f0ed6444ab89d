"""The director's commands: lines of her own mails that steer cases, read into plain values.

The director runs the procedure from her mail client, so the commands must survive what mail clients
and people do to text: accents typed or not, capitals, a period at the end of the line, a signature,
and above all the quoted copy of earlier mails under a reply. A command quoted from yesterday's mail
must never run twice: callers give these functions her mail's own words, without the quoted history
(`reading.quotes.commands_in`), so the exchange log and the commands share one history detector.

This module is pure (text in, values out): whether a mail really comes from the director, whether
the named case exists and what a command does to it belong to the caller. Anything that cannot be
obeyed exactly as written becomes a `Refusal` whose French reason tells her what was expected, with
an example, instead of a guess: a wrong guess on a Qualiopi register is worse than a second mail.

Every command word is in `COMMANDS`, the one table the parser, the suggestions and `COMMAND_HELP`
are derived from.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from inboxbot.domain.conversation import CASE_NUMBER, TAG_CLOSING, TAG_OPENING, tagged_numbers
from inboxbot.domain.dates import WrittenDay, leading_day, read_day
from inboxbot.domain.text import after_folded, fold
from inboxbot.domain.vocabulary import ActionKind, ActionStatus, Channel, Kind, Means, Nature, Priority, Stakeholder

__all__ = [
    "ACTION_STATUSES",
    "CHANNELS",
    "COMMANDS",
    "COMMAND_HELP",
    "KINDS",
    "MEANS",
    "MEANS_LABELS",
    "NATURES",
    "PRIORITIES",
    "STAKEHOLDERS",
    "Command",
    "CommandSpec",
    "Refusal",
    "parse_commands",
]


@dataclass(frozen=True)
class Command:
    """One command to obey; fields a command does not take stay None."""

    name: str  # canonical, e.g. "extend"
    case_number: str | None  # None only for "register" and "help"
    line: str  # the line as written, for the confirmation mail
    value: str | None = None  # enum value (canonical, unaccented), free text, address (lower case) or note
    days: int | None = None  # extend
    owner: str | None = None  # corrective / preventive
    due: date | None = None  # corrective / preventive
    action_number: int | None = None  # action
    status: ActionStatus | None = None  # action
    year: int | None = None  # register, report
    claimant_name: str | None = None  # claimant: the display name of "Nom <adresse>", if given
    mail_id: int | None = None  # open_mail, discard_mail: the mail put before her (M-0042 is mail 42)
    on: WrittenDay | None = None  # acknowledged, responded, received: the day as written
    means: Means | None = None  # acknowledged, responded
    # What is undone or redone: for action "edit" or "cancel", for extend "cancel" or "until" (`on`).
    change: str | None = None
    other_case: str | None = None  # merge: the case merged into `case_number`


@dataclass(frozen=True)
class Refusal:
    """A command line that will not be obeyed, and why, in French for the director."""

    line: str
    reason: str


# --- values ---------------------------------------------------------------------------------------


def _key(text: str) -> str:
    """The form in which enum words are compared: folded, hyphenated, without closing punctuation."""
    return re.sub(r"[\s_]+", "-", fold(text).strip().rstrip(".!,;:").strip())


class _Choice:
    """The values one argument accepts: canonical value -> the words that mean it.

    The first word of each entry is the one shown to the director (accented, as she would write it);
    the canonical value itself is always accepted too.
    """

    def __init__(self, noun: str, feminine: bool, command_word: str, values: Mapping[str, tuple[str, ...]]) -> None:
        self.noun = noun
        self.the = "l'" if noun[0] in "aeiouéè" else ("la " if feminine else "le ")
        self.a = "une" if feminine else "un"
        self.unknown = "inconnue" if feminine else "inconnu"
        self.command_word = command_word
        self.values = values
        self.index: dict[str, str] = {}
        for canonical, words in values.items():
            for word in (canonical, *words):
                known = self.index.setdefault(_key(word), canonical)
                if known != canonical:
                    raise ValueError(f"{word!r} means both {known!r} and {canonical!r}")

    def lookup(self, text: str) -> str | None:
        return self.index.get(_key(text))

    def shown(self, canonical: str) -> str:
        return self.values[canonical][0]

    def listing(self) -> str:
        shown = [self.shown(canonical) for canonical in self.values]
        return ", ".join(shown[:-1]) + " ou " + shown[-1]


_KIND = _Choice(
    "type",
    False,
    "type",
    {
        Kind.RECLAMATION: ("réclamation", "plainte", "complaint", "claim"),
        Kind.DIFFICULTE: ("difficulté", "difficulty"),
        Kind.ALEA: ("aléa", "incident", "hazard"),
    },
)
_NATURE = _Choice(
    "nature",
    True,
    "nature",
    {
        Nature.ORGANISATIONNELLE: (
            "organisationnelle",
            "organisationnel",
            "organisation",
            "organisational",
            "organizational",
        ),
        Nature.HUMAINE: ("humaine", "humain", "human"),
        Nature.MATERIELLE: ("matérielle", "matériel", "material"),
        Nature.ENVIRONNEMENTALE: ("environnementale", "environnemental", "environnement", "environmental"),
    },
)
_PRIORITY = _Choice(
    "priorité",
    True,
    "priorité",
    {
        Priority.BASSE: ("basse", "bas", "faible", "low"),
        Priority.NORMALE: ("normale", "normal", "moyenne", "medium"),
        Priority.HAUTE: ("haute", "haut", "élevée", "high"),
        Priority.URGENTE: ("urgente", "urgent"),
    },
)
_STAKEHOLDER = _Choice(
    "partie prenante",
    True,
    "partie",
    {
        Stakeholder.APPRENANT: ("apprenant", "apprenante", "stagiaire", "learner", "trainee"),
        Stakeholder.ENTREPRISE: ("entreprise", "client", "cliente", "employeur", "company", "employer"),
        Stakeholder.FINANCEUR: ("financeur", "opco", "funder"),
        Stakeholder.FORMATEUR: ("formateur", "formatrice", "intervenant", "trainer"),
        Stakeholder.PARTENAIRE: ("partenaire", "partner"),
        Stakeholder.AUTRE: ("autre", "other"),
    },
)
_ACTION_STATUS = _Choice(
    "état",
    False,
    "action",
    {
        ActionStatus.TODO: ("à-faire", "a faire", "to-do"),
        ActionStatus.DOING: ("en-cours", "en cours", "in-progress"),
        ActionStatus.DONE: ("faite", "fait", "finie", "fini", "terminée", "terminé", "réalisée", "réalisé"),
        ActionStatus.DROPPED: ("abandonnée", "abandonné", "abandon", "abandoned"),
    },
)
# How something was done otherwise than by inboxbot's mail: an acknowledgement, an answer.
_MEANS = _Choice(
    "moyen",
    False,
    "accusé",
    {
        Means.POST: ("courrier", "lettre", "courrier postal", "par courrier", "post", "letter"),
        Means.PHONE: ("téléphone", "telephone", "tel", "par téléphone", "appel", "phone", "call"),
        Means.HAND: ("main propre", "en main propre", "main-propre", "remis en main propre", "by hand", "in person"),
        Means.EMAIL: ("e-mail", "mail", "email", "courriel", "par mail", "par e-mail"),
    },
)
MEANS = tuple(_MEANS.values)
MEANS_LABELS = Means.briefs()
_CHANNEL = _Choice(
    "canal",
    False,
    "canal",
    {
        Channel.EMAIL: ("e-mail", "mail", "courriel", "email"),
        Channel.FORM: ("formulaire", "formulaire en ligne", "site", "form"),
        Channel.ORAL: ("oral", "orale", "téléphone", "telephone", "appel", "en session", "phone"),
        Channel.POST: ("courrier", "courrier postal", "lettre", "post", "letter"),
        Channel.THIRD_PARTY: ("transmise", "transmis", "tiers", "par un tiers", "third-party"),
    },
)
_CASE_CHOICES = (_KIND, _NATURE, _PRIORITY, _STAKEHOLDER)
CHANNELS = tuple(_CHANNEL.values)  # the ones set by a command of their own

KINDS = tuple(_KIND.values)
NATURES = tuple(_NATURE.values)
PRIORITIES = tuple(_PRIORITY.values)
STAKEHOLDERS = tuple(_STAKEHOLDER.values)
ACTION_STATUSES = tuple(_ACTION_STATUS.values)

_CASE_EXAMPLE = "2026-0001"
_MAX_EXTENSION_DAYS = 365


# --- argument parsers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Args:
    value: str | None = None
    days: int | None = None
    owner: str | None = None
    due: date | None = None
    action_number: int | None = None
    status: str | None = None
    year: int | None = None
    claimant_name: str | None = None
    mail_id: int | None = None
    on: WrittenDay | None = None
    means: str | None = None
    change: str | None = None
    case_number: str | None = None
    other_case: str | None = None


@dataclass(frozen=True)
class _Invalid:
    reason: str


_Parsed = _Args | _Invalid


def _text_or_none(text: str) -> str | None:
    """Free text as written, or None when nothing but punctuation is left (`#clore.`)."""
    text = text.strip()
    return text if text.strip(".,;:!?…-–— ") else None


def _example(spec: CommandSpec, with_case: bool = False) -> str:
    if not with_case:
        return spec.example
    word, _, rest = spec.example.partition(" ")
    return " ".join(part for part in (word, _CASE_EXAMPLE, rest) if part)


def _nothing(rest: str, spec: CommandSpec) -> _Parsed:
    """Commands whose effect needs no details; extra text would be silently lost, so it is refused."""
    if _text_or_none(rest) is None:
        return _Args()
    return _Invalid(
        f"#{spec.words[0]} ne prend pas d'autre argument que le numéro du dossier : écrivez « {spec.example} »."
    )


def _ignored(rest: str, spec: CommandSpec) -> _Parsed:
    return _Args()


def _optional_text(rest: str, spec: CommandSpec) -> _Parsed:
    return _Args(value=_text_or_none(rest))


def _required_text(what: str) -> Callable[[str, CommandSpec], _Parsed]:
    def parse(rest: str, spec: CommandSpec) -> _Parsed:
        text = _text_or_none(rest)
        if text is None:
            return _Invalid(f"Il manque {what} après #{spec.words[0]}, par exemple « {spec.example} ».")
        return _Args(value=text)

    return parse


def _urgent(rest: str, spec: CommandSpec) -> _Parsed:
    """An urgent measure; "#urgence haute" most likely meant a priority, which must not be recorded as a measure."""
    hint = " Pour la priorité du dossier, écrivez « #priorité urgente » ou « #priorité haute »."
    text = _text_or_none(rest)
    if text is None:
        return _Invalid(f"Il manque la mesure d'urgence prise, par exemple « {spec.example} ».{hint}")
    if _PRIORITY.lookup(text) is not None:
        return _Invalid(
            f"« {text} » est une priorité, pas une mesure d'urgence : #{spec.words[0]} attend la description "
            f"de la mesure prise, par exemple « {spec.example} ».{hint}"
        )
    return _Args(value=text)


def _choice(choice: _Choice) -> Callable[[str, CommandSpec], _Parsed]:
    def parse(rest: str, spec: CommandSpec) -> _Parsed:
        value = choice.lookup(rest) if rest.strip() else None
        if value is not None:
            return _Args(value=value)
        written = rest.strip()
        expected = f"attendu {choice.listing()}, par exemple « {spec.example} »."
        if not written:
            return _Invalid(f"Il manque {choice.the}{choice.noun} : {expected}")
        hint = _value_hint(written, choice)
        return _Invalid(f"{choice.noun.capitalize()} {choice.unknown} « {written} » : {expected}{hint}")

    return parse


def _value_hint(written: str, choice: _Choice) -> str:
    """A suggestion for a bad enum word: the command it belongs to, or the closest word of this one."""
    for other in _CASE_CHOICES if choice in _CASE_CHOICES else ():
        canonical = other.lookup(written)
        if other is not choice and canonical is not None:
            shown = f"#{other.command_word} {other.shown(canonical)}"
            return f" « {written} » est {other.a} {other.noun} : écrivez « {shown} »."
    close = difflib.get_close_matches(_key(written), list(choice.index), n=1, cutoff=0.6)
    if close:
        return f" Vouliez-vous dire « {choice.shown(choice.index[close[0]])} » ?"
    return ""


_DAYS = re.compile(r"(?:de\s+)?\+?(\d+)(?:\s*(?:jours?|j|days?)(?!\w))?(?!\w)[\s.,:;–—-]*", re.IGNORECASE)
_BAD_UNITS = frozenset(
    {"semaine", "semaines", "mois", "an", "ans", "annee", "annees", "week", "weeks", "month", "months"}
)
_WORKING_DAYS = frozenset({"ouvre", "ouvres", "ouvrable", "ouvrables", "business", "working"})
_REASON_LABEL = re.compile(r"(?:motif|raison|reason)\s*:\s*")


# The words that undo something, and those that change it, after #action N or #prolonger.
_CANCEL_WORDS = frozenset({"annuler", "annule", "annulee", "supprimer", "supprime", "retirer", "cancel", "delete"})
_EDIT_WORDS = frozenset({"modifier", "modifie", "modifiee", "changer", "corriger", "edit", "modify", "change"})
_UNTIL = re.compile(r"(?:jusqu'?\s*(?:au|a)|au|to|until)\s+", re.IGNORECASE)


def _first_word(text: str) -> tuple[str, str]:
    """The first word of `text`, folded and without closing punctuation, and what follows it."""
    head, _, tail = text.strip().partition(" ")
    return _key(head), tail.strip()


def _extend(rest: str, spec: CommandSpec) -> _Parsed:
    """Days then the reason: the procedure wants the particular circumstances of any delay stated.

    « annuler » undoes the extension and « jusqu'au DATE » sets the date the answer is due instead:
    a mistake is undone by mail, and the claimant told the date in force.
    """
    example = f"par exemple « {spec.example} »"
    word, tail = _first_word(rest)
    if word in _CANCEL_WORDS:
        return _Args(change="cancel", value=_text_or_none(tail.lstrip(":;,.-–— ")))
    written = rest.strip()
    until = _UNTIL.match(fold(written).replace("’", "'"))
    day = leading_day(after_folded(written, until.end()) if until is not None else written)
    if day is not None:
        return _Args(change="until", on=day[0], value=_text_or_none(_REASON_LABEL.sub("", day[1], count=1)))
    if until is not None:
        return _Invalid(
            f"Date illisible après « jusqu'au » : écrivez-la comme 20/01/2027 ou 2027-01-20, "
            f"par exemple « #{spec.words[0]} jusqu'au 20/01/2027 »."
        )
    match = _DAYS.match(rest.strip())
    if match is None:
        return _Invalid(f"Nombre de jours attendu après #{spec.words[0]} (de 1 à {_MAX_EXTENSION_DAYS}), {example}.")
    days = int(match.group(1))
    tail = rest.strip()[match.end() :]
    first_word = _key(tail.split()[0]) if tail.split() else ""
    if first_word in _BAD_UNITS:
        return _Invalid(f"La prolongation se compte en jours : écrivez le nombre de jours, {example}.")
    if first_word in _WORKING_DAYS:
        return _Invalid(f"La prolongation se compte en jours calendaires (pas ouvrés), {example}.")
    if not 1 <= days <= _MAX_EXTENSION_DAYS:
        return _Invalid(f"Durée hors limites ({days} jours) : de 1 à {_MAX_EXTENSION_DAYS} jours, {example}.")
    label = _REASON_LABEL.match(fold(tail).replace("’", "'"))
    if label is not None:
        tail = after_folded(tail, label.end())
    reason = _text_or_none(tail)
    if reason is None:
        return _Invalid(
            "Il manque le motif de la prolongation : la procédure demande de justifier les circonstances "
            f"particulières auprès du réclamant, {example}."
        )
    return _Args(days=days, value=reason)


def _leading_means(text: str) -> tuple[str, str] | None:
    """The means written at the start of `text` (one to four words) and what follows it."""
    for count in (4, 3, 2, 1):
        words = re.match(rf"\s*((?:\S+\s+){{{count - 1}}}\S+?)[.,;:]?(?:\s+|\Z)(.*)\Z", text, re.DOTALL)
        if words is not None and (means := _MEANS.lookup(words.group(1))) is not None:
            return means, words.group(2)
    return None


_DATE_INSIDE = re.compile(r"(?<!\d)(?:\d{1,2}[/.]\d{1,2}|\d{4}-\d{1,2}-\d{1,2})(?![\d])")


def _done_otherwise(what: str, text_required: bool) -> Callable[[str, CommandSpec], _Parsed]:
    """`[date] [moyen] [texte]`, date and means in either order: something she did outside inboxbot.

    The date, when given, must be readable: a date misread would put a false date on the register.
    """

    def parse(rest: str, spec: CommandSpec) -> _Parsed:
        example = f"par exemple « {spec.example} »"
        on: WrittenDay | None = None
        means: str | None = None
        rest = rest.strip()
        for _ in range(2):
            if on is None and (found := leading_day(rest)) is not None:
                on, rest = found
            elif means is None and (found_means := _leading_means(rest)) is not None:
                means, rest = found_means
        if on is None and re.match(r"\d{1,4}\s*[/.-]", rest):
            written = rest.split()[0]
            return _Invalid(
                f"Date illisible « {written} » : écrivez-la comme 03/12/2026, 3/12 ou 2026-12-03, {example}."
            )
        text = _text_or_none(rest)
        if text is None and text_required:
            return _Invalid(f"Il manque {what} après #{spec.words[0]}, {example}.")
        if on is None and not text_required and text is not None and _DATE_INSIDE.search(text):
            # « #accusé courrier envoyé le 3/12 » would be dated today: the date must come first.
            return _Invalid(f"Écrivez la date juste après #{spec.words[0]}, {example}.")
        return _Args(on=on, means=means, value=text)

    return parse


def _reception(rest: str, spec: CommandSpec) -> _Parsed:
    """The day (and time, if known) the claim was received, for one received on paper or by phone."""
    found = leading_day(rest)
    if found is None or _text_or_none(found[1]) is not None:
        return _Invalid(
            f"Date de réception attendue, écrite comme 03/12/2026, 3/12 ou 2026-12-03 (l'heure est "
            f"facultative), par exemple « {spec.example} »."
        )
    return _Args(on=found[0])


_BY = re.compile(r"(?:par|by|from)\s+", re.IGNORECASE)


def _transmitter(rest: str, spec: CommandSpec) -> _Parsed:
    """Who passed the claim on: an address or a name, as written (« par l'accueil du centre »)."""
    text = _text_or_none(_BY.sub("", rest.strip(), count=1) if _BY.match(rest.strip()) else rest)
    if text is None:
        return _Invalid(f"Il manque qui a transmis la réclamation, par exemple « {spec.example} ».")
    if len(text) > 320:
        return _Invalid("Nom ou adresse trop long (320 caractères au plus).")
    return _Args(value=text.rstrip(".").strip())


def _parse_date(text: str) -> date | None:
    """A due date as the director types it (31/01/2027, 31/1/27, 2027-01-31, 31 janvier 2027): year required."""
    written = read_day(text)
    if written is None or written.year is None or written.days_before is not None:
        return None
    return date(written.year, written.month, written.day)


_OWNER_KEYS = ("responsable", "pilote", "porteur", "owner", "qui")
_DUE_KEYS = ("echeance", "pour le", "pour", "avant le", "avant", "d'ici le", "d'ici", "due", "deadline", "date")
_PART_KEY = re.compile(
    r"\s*(?P<key>"
    + "|".join(re.escape(key) for key in sorted((*_OWNER_KEYS, *_DUE_KEYS), key=len, reverse=True))
    + r")(?![\w'])\s*(?P<colon>[:=])?\s*"
)


def _measure(rest: str, spec: CommandSpec) -> _Parsed:
    """A corrective or preventive action: text, then `; responsable: X` and `; échéance: DATE` in any order.

    An owner needs its colon ("; qui a été validé" is prose); a due date is recognised without one
    only when a date follows ("; avant le 31/01/2027"), so a semicolon in prose stays prose.
    """
    parts = rest.split(";")
    text_parts = [parts[0]]
    owner: str | None = None
    due: date | None = None
    for part in parts[1:]:
        match = _PART_KEY.match(fold(part).replace("’", "'"))
        if match is None:
            text_parts.append(part)
            continue
        value = after_folded(part, match.end()).strip()
        if match.group("key") in _OWNER_KEYS:
            if match.group("colon") is None:
                text_parts.append(part)
                continue
            if owner is not None:
                return _Invalid(f"Un seul responsable par action, par exemple « {spec.example} ».")
            owner = value.rstrip(".").strip()
            if not owner:
                return _Invalid(
                    f"Il manque le nom du responsable après « responsable : », par exemple « {spec.example} »."
                )
            continue
        parsed = _parse_date(value)
        if parsed is None and match.group("colon") is None:
            text_parts.append(part)
            continue
        if parsed is None:
            return _Invalid(
                f"Échéance illisible « {value} » : écrivez une date comme 31/01/2027 ou 2027-01-31, "
                f"par exemple « {spec.example} »."
            )
        if due is not None:
            return _Invalid(f"Une seule échéance par action, par exemple « {spec.example} ».")
        due = parsed
    text = _text_or_none(";".join(text_parts))
    if text is None:
        return _Invalid(f"Il manque la description de l'action après #{spec.words[0]}, par exemple « {spec.example} ».")
    return _Args(value=text, owner=owner, due=due)


_ACTION_NUMBER = re.compile(r"(?:n\s*[°º]\s*|no\.?\s*|#)?(\d+)(?!\w)[\s.,:;–—-]*", re.IGNORECASE)


def _action(rest: str, spec: CommandSpec) -> _Parsed:
    """An action's progress: its number as listed to the director, a status, then an optional result."""
    example = f"par exemple « {spec.example} »"
    rest = rest.strip()
    match = _ACTION_NUMBER.match(rest)
    if match is None or int(match.group(1)) < 1:
        return _Invalid(f"Numéro d'action attendu (1, 2… comme dans le point du jour), {example}.")
    tail = rest[match.end() :]
    number = int(match.group(1))
    word, after = _first_word(tail)
    if word in _CANCEL_WORDS:
        return _Args(action_number=number, change="cancel", value=_text_or_none(after.lstrip(":;,.-–— ")))
    if word in _EDIT_WORDS:
        return _edited_action(number, after, spec)
    for count in (2, 1):
        words = re.match(rf"\s*((?:\S+\s+){{{count - 1}}}\S+)(.*)\Z", tail, re.DOTALL)
        status = _ACTION_STATUS.lookup(words.group(1)) if words else None
        if words is not None and status is not None:
            result = _text_or_none(words.group(2).lstrip(" :;,.-–—"))
            return _Args(action_number=int(match.group(1)), status=status, value=result)
    written = tail.split()[0] if tail.split() else ""
    expected = f"attendu {_ACTION_STATUS.listing()}, {example}."
    if not written:
        return _Invalid(f"Il manque l'état de l'action : {expected}")
    return _Invalid(f"État d'action inconnu « {written} » : {expected}{_value_hint(written, _ACTION_STATUS)}")


def _edited_action(number: int, rest: str, spec: CommandSpec) -> _Parsed:
    """« #action 2 modifier nouveau texte ; responsable : X ; échéance : DATE »: what is given replaces
    what was recorded, what is not given stays (« #action 2 modifier ; échéance : 15/02/2027 »)."""
    example = f"par exemple « #{spec.words[0]} 2 modifier Vérifier chaque réservation ; échéance : 15/02/2027 »"
    rest = rest.lstrip(":,.-–— ")
    if not rest.strip(" ;"):
        return _Invalid(f"Il manque ce qui change dans l'action n° {number}, {example}.")
    parsed = _measure(rest if not rest.startswith(";") else "·" + rest, spec)
    if isinstance(parsed, _Invalid):
        return _Invalid(parsed.reason.replace(f"par exemple « {spec.example} »", example))
    text = None if parsed.value == "·" else parsed.value
    if text is None and parsed.owner is None and parsed.due is None:
        return _Invalid(f"Il manque ce qui change dans l'action n° {number}, {example}.")
    return _Args(action_number=number, change="edit", value=text, owner=parsed.owner, due=parsed.due)


_ADDRESS = re.compile(
    r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}"
)


def _named_address(written: str) -> tuple[str, str] | None:
    """(name, address) of "Nom <adresse>": what ends the line between its last `<` and a final `>`.

    Read by position, not by a pattern: `(.*?)\\s*<\\s*([^<>]*?)\\s*>` was cubic on a `<` followed
    by blanks (regexploit), and the line is the sender's text until proof is checked.
    """
    if not written.endswith(">"):
        return None
    opening = written.rfind("<", 0, len(written) - 1)
    if opening < 0 or ">" in written[opening + 1 : -1]:
        return None
    return written[:opening].strip(), written[opening + 1 : -1].strip()


def _claimant(rest: str, spec: CommandSpec) -> _Parsed:
    """The claimant's address, bare or as "Nom <adresse>": it is where the answers will be sent."""
    written = rest.strip().rstrip(".").strip()
    named = _named_address(written)
    if named is not None:
        name, address = named
    else:
        name, _, address = written.rpartition(" ")
    address = re.sub(r"^mailto:", "", address.strip(), flags=re.IGNORECASE)
    name = name.strip().strip("\"'").strip()
    if not written:
        return _Invalid(f"Il manque l'adresse du réclamant, par exemple « {spec.example} ».")
    if not _ADDRESS.fullmatch(address):
        return _Invalid(
            f"Adresse invalide « {written} » : attendu une adresse comme jeanne.martin@exemple.fr, "
            f"éventuellement avec le nom, par exemple « {spec.example} »."
        )
    return _Args(value=address.lower(), claimant_name=name or None)


# The reference the digest gives a mail put before her: "M-0042", typed as "m-42", "M 0042" or "M0042".
_MAIL_REFERENCE = re.compile(r"\[?\s*m\s*-?\s*(\d{1,12})\s*\]?(?!\w)[\s.,:;]*", re.IGNORECASE)
_MAIL_EXAMPLE = "M-0042"


def _mail(rest: str, spec: CommandSpec, kind: bool) -> _Parsed:
    """A mail's reference, then (for #ouvrir) the type of the case, réclamation when none is given."""
    match = _MAIL_REFERENCE.match(rest.strip())
    if match is None:
        written = rest.strip().split()[0] if rest.strip() else ""
        what = f"Référence « {written} » mal formée" if written else "Il manque la référence du message"
        return _Invalid(f"{what} : écrivez celle que donne le point du jour, par exemple « {spec.example} ».")
    tail = rest.strip()[match.end() :]
    if not kind:
        return _Args(mail_id=int(match.group(1)), value=_text_or_none(tail))
    if _text_or_none(tail) is None:
        return _Args(mail_id=int(match.group(1)))
    value = _KIND.lookup(tail)
    if value is None:
        return _Invalid(
            f"Type inconnu « {tail.strip()} » : attendu {_KIND.listing()}, "
            f"par exemple « #ouvrir {_MAIL_EXAMPLE} aléa »."
        )
    return _Args(mail_id=int(match.group(1)), value=value)


def _open_mail(rest: str, spec: CommandSpec) -> _Parsed:
    return _mail(rest, spec, kind=True)


def _discard_mail(rest: str, spec: CommandSpec) -> _Parsed:
    return _mail(rest, spec, kind=False)


_MERGE_KEEPS_FIRST = frozenset({"", "et", "avec", "and", "with", "+", "<-", "←"})
_MERGE_KEEPS_SECOND = frozenset({"dans", "vers", "into", "in", "->", "→", "=>"})
_NUMBER_WORDS = re.compile(r"(?:le\s+|du\s+)?(?:dossiers?|n\s*[°º]|num[ée]ros?|#)\s*", re.IGNORECASE)


def _merge(rest: str, spec: CommandSpec) -> _Parsed:
    """Two case numbers, the one kept first (« #fusionner 2026-0001 2026-0003 ») or written the other way
    round (« #fusionner 2026-0003 dans 2026-0001 »); a note may follow. Both must be on the line: the
    subject alone is never enough for something that moves a whole case."""
    example = f"par exemple « {spec.example} » (le second est fusionné dans le premier)"
    numbers = list(_ANY_NUMBER.finditer(rest, 0, 2000))
    if len(numbers) < 2:
        return _Invalid(f"Deux numéros de dossier attendus après #{spec.words[0]}, {example}.")
    first, second = numbers[0], numbers[1]
    between = _key(_NUMBER_WORDS.sub(" ", rest[first.end() : second.start()]))
    lead = _text_or_none(_NUMBER_WORDS.sub(" ", rest[: first.start()]))
    tail = _text_or_none(_NUMBER_WORDS.sub(" ", rest[second.end() :]))
    if lead is not None or len(numbers) > 2 or (between not in _MERGE_KEEPS_FIRST | _MERGE_KEEPS_SECOND):
        return _Invalid(f"Écrivez seulement les deux numéros, celui qu'on garde d'abord, {example}.")
    kept, merged = (first.group(0), second.group(0))
    if between in _MERGE_KEEPS_SECOND:
        kept, merged = merged, kept
    return _Args(case_number=kept, other_case=merged, value=tail)


def _register(rest: str, spec: CommandSpec) -> _Parsed:
    """An optional year, and for #registre the word « audit »: the audit file (a zipped site) instead
    of the spreadsheet. In either order: « #registre 2026 audit », « #registre audit 2026 »."""
    words = rest.strip().rstrip(".").split()
    year: int | None = None
    audit = False
    for word in words:
        if re.fullmatch(r"\d{4}", word) and year is None:
            year = int(word)
        elif spec.name == "register" and fold(word) == "audit" and not audit:
            audit = True
        else:
            extra = " ; ajoutez « audit » pour le dossier d'audit complet (#registre 2026 audit)"
            return _Invalid(
                "Année attendue sur 4 chiffres (ou rien pour l'année en cours), "
                f"par exemple « {spec.example} »{extra if spec.name == 'register' else ''}."
            )
    return _Args(year=year, value="audit" if audit else None)


# --- the vocabulary ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandSpec:
    """One command: its canonical name, the words that call it and how its arguments read."""

    name: str
    words: tuple[str, ...]  # French, written as shown to the director; the first one is the main word
    english: tuple[str, ...]
    parse: Callable[[str, CommandSpec], _Args | _Invalid]
    example: str  # a full line without the case number, shown in help and in refusals
    summary: str  # French, for the help
    needs_case: bool = True


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "close",
        ("clore", "clôturer", "clos", "fermer"),
        ("close",),
        _optional_text,
        "#clore Réponse envoyée, la stagiaire est satisfaite",
        "clôt le dossier (note de clôture facultative)",
    ),
    CommandSpec(
        "kind",
        ("type",),
        ("kind",),
        _choice(_KIND),
        "#type réclamation",
        f"type du dossier : {_KIND.listing()}",
    ),
    CommandSpec(
        "nature",
        ("nature",),
        (),
        _choice(_NATURE),
        "#nature matérielle",
        f"nature du dysfonctionnement : {_NATURE.listing()}",
    ),
    CommandSpec(
        "priority",
        ("priorité",),
        ("priority",),
        _choice(_PRIORITY),
        "#priorité haute",
        f"priorité : {_PRIORITY.listing()}",
    ),
    CommandSpec(
        "stakeholder",
        ("partie", "partie-prenante", "acteur"),
        ("stakeholder",),
        _choice(_STAKEHOLDER),
        "#partie financeur",
        f"partie prenante à l'origine : {_STAKEHOLDER.listing()}",
    ),
    CommandSpec(
        "training",
        ("formation",),
        ("training",),
        _required_text("l'intitulé de la formation"),
        "#formation Excel perfectionnement, session de mars",
        "formation concernée",
    ),
    CommandSpec(
        "claimant",
        ("réclamant",),
        ("claimant",),
        _claimant,
        "#réclamant Jeanne Martin <jeanne.martin@exemple.fr>",
        "adresse du réclamant (le nom est facultatif)",
    ),
    CommandSpec(
        "extend",
        ("prolonger", "prolongation"),
        ("extend",),
        _extend,
        "#prolonger 15 attente du retour du financeur",
        f"prolonge le délai de réponse d'un nombre de jours (1 à {_MAX_EXTENSION_DAYS}), motif obligatoire ; "
        "« #prolonger jusqu'au 20/01/2027 » fixe la date (plus tôt ou plus tard), « #prolonger annuler » revient "
        "à la date initiale : le réclamant reçoit la nouvelle date",
    ),
    CommandSpec(
        ActionKind.CAUSE,
        ("cause", "cause-profonde"),
        ("root-cause",),
        _required_text("la cause"),
        "#cause salle réservée deux fois le même jour",
        "cause profonde du dysfonctionnement",
    ),
    CommandSpec(
        ActionKind.CORRECTIVE,
        ("corrective", "action-corrective"),
        (),
        _measure,
        "#corrective Vérifier chaque réservation de salle ; responsable : Marie ; échéance : 31/01/2027",
        "action corrective ; responsable et échéance facultatifs",
    ),
    CommandSpec(
        ActionKind.PREVENTIVE,
        ("préventive", "action-préventive"),
        (),
        _measure,
        "#préventive Double confirmation des salles avec le centre ; échéance : 28/02/2027",
        "action préventive ; responsable et échéance facultatifs",
    ),
    CommandSpec(
        "action",
        ("action", "suivi"),
        (),
        _action,
        "#action 1 faite nouvelle procédure appliquée",
        f"avancement d'une action (son numéro dans le point du jour) : {_ACTION_STATUS.listing()}, "
        "puis le résultat (facultatif) ; « #action 1 modifier texte ; responsable : … ; échéance : … » la corrige, "
        "« #action 1 annuler » la retire (l'historique garde l'ancienne valeur)",
    ),
    CommandSpec(
        ActionKind.MEDIATION,
        ("médiation",),
        (),
        _optional_text,
        "#médiation rendez-vous fixé avec l'entreprise le 12 mars",
        "médiation conduite par la directrice (note facultative)",
    ),
    CommandSpec(
        ActionKind.URGENT,
        ("urgence", "mesure-urgence", "mesure-d-urgence"),
        ("urgent",),
        _urgent,
        "#urgence salle de remplacement réservée",
        "mesure d'urgence prise",
    ),
    CommandSpec(
        "note",
        ("note",),
        (),
        _required_text("le texte de la note"),
        "#note appel de la stagiaire, elle attend un geste commercial",
        "note au dossier",
    ),
    CommandSpec(
        "dismiss",
        ("ignorer", "classer", "sans-suite"),
        ("ignore", "dismiss"),
        _optional_text,
        "#ignorer simple demande d'information",
        "classe sans suite : ce n'était pas une réclamation (motif facultatif) ; le réclamant qui a reçu "
        "un accusé de réception en est informé avec le motif, sauf « #ignorer sans message … »",
    ),
    CommandSpec(
        "open_mail",
        ("ouvrir",),
        ("open",),
        _open_mail,
        f"#ouvrir {_MAIL_EXAMPLE}",
        "ouvre le dossier d'un message présenté « à qualifier » (ou laissé à trier par une règle) dans le point "
        "du jour, daté de sa réception, avec les messages qui lui ont fait suite, et accuse réception à son "
        f"auteur ; le type est facultatif (#ouvrir {_MAIL_EXAMPLE} aléa)",
        needs_case=False,
    ),
    CommandSpec(
        "discard_mail",
        ("écarter",),
        ("discard",),
        _discard_mail,
        f"#écarter {_MAIL_EXAMPLE}",
        "écarte un message présenté « à qualifier » (ou laissé à trier), avec ceux qui lui ont fait suite : "
        "ce n'est ni une réclamation ni un incident (motif facultatif)",
        needs_case=False,
    ),
    CommandSpec(
        "merge",
        ("fusionner", "fusion"),
        ("merge",),
        _merge,
        "#fusionner 2026-0001 2026-0003",
        "fusionne le second dossier dans le premier (même personne sous deux adresses, même réclamation "
        "envoyée deux fois) : ses messages, actions et historique rejoignent le premier, qui garde la date "
        "de réception la plus ancienne ; le second est clos « fusionné » et reste au registre",
        needs_case=False,
    ),
    CommandSpec(
        "reopen",
        ("rouvrir", "réouvrir"),
        ("reopen",),
        _nothing,
        "#rouvrir",
        "rouvre un dossier clos",
    ),
    CommandSpec(
        "acknowledged",
        ("accusé", "accusé-réception", "ar"),
        ("acknowledged", "ack"),
        _done_otherwise("", False),
        "#accusé 03/12/2026 courrier",
        "enregistre un accusé de réception fait autrement (courrier, téléphone, main propre ; date du jour "
        "si aucune, note facultative)",
    ),
    CommandSpec(
        "responded",
        ("réponse", "répondu"),
        ("response", "answered"),
        _done_otherwise("le contenu de la réponse", True),
        "#réponse 03/12/2026 téléphone remboursement accordé, confirmé par écrit",
        "enregistre une réponse faite autrement que par mail (date du jour si aucune), avec son contenu",
    ),
    CommandSpec(
        "received",
        ("reçu", "reçue", "réception"),
        ("received",),
        _reception,
        "#reçu 02/12/2026 14:30",
        "date (et heure) de réception de la réclamation, si ce n'est pas celle du mail",
    ),
    CommandSpec(
        "channel",
        ("canal", "voie"),
        ("channel",),
        _choice(_CHANNEL),
        "#canal courrier",
        f"canal de réception : {_CHANNEL.listing()}",
    ),
    CommandSpec(
        "transmitter",
        ("transmis", "transmise", "transmetteur"),
        ("transmitter", "forwarded-by"),
        _transmitter,
        "#transmis par l'accueil du centre de formation",
        "qui a transmis la réclamation (nom ou adresse)",
    ),
    CommandSpec(
        "risk",
        ("risque", "analyse-risque"),
        ("risk",),
        _required_text("l'analyse du risque"),
        "#risque dépendance à une seule salle partenaire : prévoir une seconde salle",
        "enregistre l'analyse d'un risque qualité, datée, pour le rapport annuel",
        needs_case=False,
    ),
    CommandSpec(
        "record",
        ("dossier", "fiche"),
        ("case", "record"),
        _nothing,
        "#dossier 2026-0001",
        "vous envoie le dossier complet (faits, délais tenus ou non, échanges en entier, historique, actions, "
        "satisfaction) en une page à ouvrir sur l'ordinateur ou le téléphone",
    ),
    CommandSpec(
        "register",
        ("registre",),
        ("register",),
        _register,
        "#registre 2026",
        "envoie le registre des réclamations (année facultative ; « audit » : le dossier d'audit complet, zippé)",
        needs_case=False,
    ),
    CommandSpec(
        "report",
        ("rapport",),
        ("report",),
        _register,
        "#rapport 2026",
        "envoie le rapport annuel (année facultative)",
        needs_case=False,
    ),
    CommandSpec(
        "review",
        ("revue", "revue-procedure"),
        ("review",),
        _nothing,
        "#revue",
        "enregistre la revue annuelle de la procédure de traitement des réclamations (à la date du message)",
        needs_case=False,
    ),
    CommandSpec(
        "help",
        ("aide",),
        ("help",),
        _ignored,
        "#aide",
        "cette aide",
        needs_case=False,
    ),
)


def _word_index(commands: Sequence[CommandSpec]) -> dict[str, tuple[CommandSpec, str]]:
    """Folded word -> its command and the word as written; a word meaning two commands is a bug."""
    index: dict[str, tuple[CommandSpec, str]] = {}
    for spec in commands:
        for word in (*spec.words, *spec.english, spec.name):
            known = index.setdefault(fold(word), (spec, word))[0]
            if known is not spec:
                raise ValueError(f"#{word} names both {known.name!r} and {spec.name!r}")
    return index


_BY_WORD = _word_index(COMMANDS)


def _help(commands: Sequence[CommandSpec]) -> str:
    lines = [
        "Commandes : une par ligne, commençant par #, dans un mail envoyé à votre propre adresse ou en "
        "réponse au point du jour.",
        f"Le dossier est celui dont le numéro suit la commande (#clore {_CASE_EXAMPLE}), sinon celui de "
        f"l'objet du mail ([Dossier {_CASE_EXAMPLE}]).",
        "Accents et majuscules sont indifférents ; les noms anglais sont acceptés. Les lignes citées "
        "(réponse à un ancien mail) ne sont jamais exécutées.",
        "",
    ]
    for spec in commands:
        others = ", ".join(f"#{word}" for word in spec.words[1:])
        lines.append(f"#{spec.words[0]}" + (f" (ou {others})" if others else "") + f" — {spec.summary}.")
        lines.append(f"    {spec.example}")
    return "\n".join(lines) + "\n"


COMMAND_HELP = _help(COMMANDS)


# --- lines and cases --------------------------------------------------------------------------------

_COMMAND_LINE = re.compile(r"#([\w-]+)(.*)\Z", re.DOTALL)
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def _command_lines(text: str) -> Iterator[str]:
    """The lines of `text` that are commands: line-initial `#word`, above her signature.

    `text` is her mail's own words: the quoted history under a reply is the reading layer's to remove
    (`reading.quotes.strip_history`, through `reading.quotes.commands_in`), one detector for the
    exchange log and the commands alike.
    """
    lines = [_INVISIBLE.sub("", line) for line in unicodedata.normalize("NFC", text).splitlines()]
    for line in lines:
        if line.rstrip(" \t") == "--":
            return
        stripped = line.strip()
        if _COMMAND_LINE.match(stripped):
            yield stripped


# What may separate a command word or a case number from the arguments: "#clore : merci", "#clore — merci".
_LEAD = re.compile(r"^\s*(?:[:=]\s*|[–—-]\s+)?")
_LINE_CASE = re.compile(
    rf"(?:{TAG_OPENING}(?P<tagged>{CASE_NUMBER}){TAG_CLOSING}"
    rf"|(?:(?:du|de|le)\s)?(?:(?:dossier|n\s*[°º]|no\.?|num[ée]ro)\s*)*#?(?P<plain>{CASE_NUMBER})(?![\d-]))"
    r"[\s.,:;]*(?:[–—-]\s+)?",
    re.IGNORECASE,
)
# A number she meant as a case but mistyped ("2026-001", "[Dossier 26-01]"): taken as text, it would
# land on the subject's case, so such a line is refused rather than read. A date (2026-12-03) is not one.
# `[^\[\]]*\d+-\d[^\[\]]*\]` written so that nothing is read twice: the closing bracket is looked
# for once, ahead, and the digits before the dash are left to the run (it holds digits too); and
# `(?:#\s*)?` rather than `#?\s*` after blanks, which split a run of blanks every possible way.
_CASE_LIKE = re.compile(
    r"\[(?=[^\[\]]*\])[^\[\]]*?\d-\d|(?:(?:dossier|n\s*[°º]|num[ée]ro)\s*)+(?:#\s*)?\d+-\d"
    r"|#?(?:\d{4}-(?!\d{1,2}-\d{1,2}(?!\d))\d|\d{2}-\d{4})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _CaseChoice:
    number: str | None
    rest: str  # the arguments after the number
    problem: str | None = None
    unreadable: bool = False  # the arguments start with a bad number: reading them would mislead


def _case(rest: str, subject_cases: Sequence[str], spec: CommandSpec) -> _CaseChoice:
    """The case a line is about, and why none could be chosen, if so.

    A number on the line wins over the subject, which is only used when it names exactly one case:
    picking one of several would act on a case she did not mean.
    """
    number: str | None = None
    match = _LINE_CASE.match(rest)
    if match is not None:
        number = match.group("tagged") or match.group("plain")
        rest = rest[match.end() :]
    example = f"par exemple « {_example(spec, with_case=True)} »"
    if _CASE_LIKE.match(rest):
        written = rest.split()[0]
        if number is not None:
            problem = f"Un seul dossier par ligne : « {written} » est en trop ; écrivez une ligne par dossier."
        else:
            problem = f"Numéro de dossier mal formé « {written} » : attendu l'année, un tiret et le numéro, {example}."
        return _CaseChoice(None, rest, problem, unreadable=True)
    if number is not None:
        return _CaseChoice(number, rest)
    if len(subject_cases) == 1:
        return _CaseChoice(subject_cases[0], rest)
    if subject_cases:
        named = ", ".join(subject_cases)
        return _CaseChoice(
            None, rest, f"L'objet du mail cite plusieurs dossiers ({named}) : précisez lequel, {example}."
        )
    return _CaseChoice(
        None,
        rest,
        f"Aucun dossier indiqué : écrivez son numéro après la commande, {example}, "
        f"ou répondez à un mail dont l'objet porte [Dossier {_CASE_EXAMPLE}].",
    )


def _unknown(word: str) -> str:
    """Why `#word` is refused, with the command she most likely meant."""
    folded = fold(word)
    for choice in _CASE_CHOICES:
        canonical = choice.lookup(word)
        if canonical is not None:
            suggestion = f"#{choice.command_word} {choice.shown(canonical)}"
            break
    else:
        close = difflib.get_close_matches(folded, list(_BY_WORD), n=1, cutoff=0.6)
        suggestion = f"#{_BY_WORD[close[0]][1]}" if close else ""
    hint = f" Vouliez-vous dire « {suggestion} » ?" if suggestion else ""
    return f"Commande inconnue « #{word} ».{hint} Écrivez #aide pour recevoir la liste des commandes."


def _parse_line(line: str, subject_cases: Sequence[str]) -> Command | Refusal:
    match = _COMMAND_LINE.match(line)
    assert match is not None  # _command_lines only yields command lines
    word, rest = match.group(1), match.group(2)
    found = _BY_WORD.get(fold(word))
    if found is None:
        return Refusal(line, _unknown(word))
    spec = found[0]
    rest = _LEAD.sub("", rest)
    if spec.name == "dismiss" and _MAIL_REFERENCE.match(rest.strip()):
        # "#dismiss M-0042", "#ignorer M-0042": about a mail put before her, not a case.
        spec = _BY_WORD["discard"][0]
    case = _CaseChoice(None, rest)
    if spec.needs_case:
        case = _case(rest, subject_cases, spec)
        if case.unreadable and case.problem is not None:
            return Refusal(line, case.problem)
    parsed = spec.parse(case.rest, spec)
    reasons = [parsed.reason] if isinstance(parsed, _Invalid) else []
    reasons += [case.problem] if case.problem is not None else []
    if reasons:
        return Refusal(line, " ".join(reasons))
    assert isinstance(parsed, _Args)
    return Command(
        name=spec.name,
        case_number=case.number or parsed.case_number,
        line=line,
        value=parsed.value,
        days=parsed.days,
        owner=parsed.owner,
        due=parsed.due,
        action_number=parsed.action_number,
        status=ActionStatus(parsed.status) if parsed.status else None,
        year=parsed.year,
        claimant_name=parsed.claimant_name,
        mail_id=parsed.mail_id,
        on=parsed.on,
        means=Means(parsed.means) if parsed.means else None,
        change=parsed.change,
        other_case=parsed.other_case,
    )


def parse_commands(text: str, subject: str = "") -> list[Command | Refusal]:
    """The commands of a mail body, in the order written; `subject` supplies the case when it tags one.

    Callers must only obey the result for mails that provably come from the director (her Sent copy,
    or her server's authentication), and must still check that each named case exists: this
    function knows neither.
    """
    subject_cases = tagged_numbers(subject) or named_numbers(subject)
    return [_parse_line(line, subject_cases) for line in _command_lines(text)]


# A case named in her own words: « Clôture du dossier 2026-0002 », « dossier n° 2026-0002 »,
# « numéro 2026-0002 ». Blanks are bounded, so no run of them can be split two ways.
_NAMED_CASE = re.compile(
    rf"(?:dossier|n\s?[°º]|num[ée]ro)\s{{0,3}}(?:n\s?[°º]\s{{0,3}})?#?\s{{0,3}}({CASE_NUMBER})(?![\d-])", re.IGNORECASE
)


_ANY_NUMBER = re.compile(rf"(?<![\d-]){CASE_NUMBER}(?![\d-])")


def named_numbers(subject: str) -> tuple[str, ...]:
    """The case a subject names in words rather than in a tag, when it names exactly one: a subject
    holding two numbers (« dossiers 2026-0002 et 2026-0003 ») names none, whatever words surround them."""
    subject = subject[:1000]
    if len(set(_ANY_NUMBER.findall(subject))) != 1:
        return ()
    return tuple(dict.fromkeys(match.group(1) for match in _NAMED_CASE.finditer(subject)))
