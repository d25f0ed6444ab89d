"""Claims sent through the website's complaint form.

The procedure lists the online form as a channel. The website mails a notification from its own
address (wordpress@…, no-reply@…), so the sender is a machine: the claimant is whoever typed their
address into the form, and acknowledging the sender would write to nobody. This module reads the
fields of the notification as the common WordPress form plugins lay them out (Contact Form 7,
WPForms, Gravity Forms, Elementor, in French and English, as plain text or as HTML tables turned
into text) and finds the claimant's address, name and message among them.

Labels are free text chosen by whoever built the form, so they are matched folded (no accents, no
case, no "votre"/"your", no required-field star) against the names people give these fields.
Everything here is pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.text import fold
from inboxbot.reading.parse import defused_html

MAX_LABEL_CHARS = 40
"""Longer text before a colon is a sentence, not a field label."""

MAX_LABEL_WORDS = 5


@dataclass(frozen=True)
class FormSubmission:
    """What the form said.

    `fields` maps each label as the form wrote it (without its colon) to its value, in the order
    of the mail; a label seen twice keeps its first non-empty value. `message` is the free-text
    field, "" when none is recognisable: the caller then has only `fields` to show.
    """

    claimant: Address | None
    fields: dict[str, str] = field(default_factory=dict)
    message: str = ""


# Folded labels by meaning. Leading possessives ("votre", "your") and required-field marks are
# removed before lookup, so "Votre adresse e-mail *" is found as "adresse e-mail".
_EMAIL = frozenset(
    {
        "email",
        "e-mail",
        "e mail",
        "mail",
        "mel",
        "courriel",
        "adresse e-mail",
        "adresse email",
        "adresse e mail",
        "adresse mail",
        "adresse mel",
        "adresse courriel",
        "adresse de courriel",
        "adresse electronique",
        "adresse de messagerie",
        "email address",
        "e-mail address",
        "mail address",
        "contact email",
        "courriel de contact",
        "e-mail de contact",
        "email de contact",
    }
)
# Contact Form 7's default template writes "From: [your-name] <[your-email]>" in the body.
_MAILBOX = frozenset({"from", "de", "expediteur", "sender"})
_FULL_NAME = frozenset(
    {
        "nom",
        "name",
        "nom complet",
        "full name",
        "nom et prenom",
        "nom prenom",
        "nom & prenom",
        "nom + prenom",
        "nom / prenom",
        "nom, prenom",
        "prenom et nom",
        "prenom nom",
        "prenom & nom",
        "prenom + nom",
        "prenom / nom",
        "prenom, nom",
        "nom - prenom",
        "prenom - nom",
        "identite",
        "nom du stagiaire",
        "nom du participant",
        "nom de l'apprenant",
    }
)
_BARE_NAME = frozenset({"nom", "name"})
_FIRST_NAME = frozenset({"prenom", "first name", "firstname", "given name"})
_LAST_NAME = frozenset({"nom de famille", "last name", "lastname", "surname", "family name"})
# The free-text field, best first: a form with both "Objet de la réclamation" and "Message"
# holds the claim's words in "Message".
_MESSAGE_RANKS: tuple[frozenset[str], ...] = (
    frozenset({"message", "message body", "corps du message", "texte du message", "demande"}),
    frozenset({"description", "description de la reclamation", "detail de la reclamation", "details"}),
    frozenset({"reclamation", "detail", "details de la reclamation", "expose de la reclamation"}),
    frozenset({"objet de la reclamation", "motif de la reclamation", "motif"}),
    frozenset({"commentaire", "commentaires", "comment", "comments", "remarques"}),
)
_MESSAGE: frozenset[str] = frozenset().union(*_MESSAGE_RANKS)
# Other fields forms carry: they end a multi-line message, and they are one line long.
_OTHER = frozenset(
    {
        "telephone",
        "tel",
        "tel.",
        "phone",
        "phone number",
        "numero de telephone",
        "portable",
        "mobile",
        "sujet",
        "objet",
        "subject",
        "objet du message",
        "objet de la demande",
        "entreprise",
        "societe",
        "organisme",
        "structure",
        "company",
        "organisation",
        "employeur",
        "etablissement",
        "formation",
        "formation suivie",
        "formation concernee",
        "intitule de la formation",
        "nom de la formation",
        "session",
        "session concernee",
        "date de la formation",
        "dates de la formation",
        "date de session",
        "lieu de la formation",
        "formateur",
        "formatrice",
        "intervenant",
        "training",
        "course",
        "type de demande",
        "type de reclamation",
        "nature de la reclamation",
        "categorie",
        "vous etes",
        "statut",
        "qualite",
        "fonction",
        "consentement",
        "rgpd",
        "acceptance",
        "piece jointe",
        "pieces jointes",
        "fichier",
        "fichiers",
        "file",
        "files",
        "attachment",
        # Elementor's metadata block, after its "---" line.
        "url de la page",
        "page url",
        "agent utilisateur",
        "user agent",
        "ip distante",
        "remote ip",
        "propulse par",
        "powered by",
    }
)
# Recognised, but words a claimant may well start a line of their message with ("Date : le 12,
# le formateur…"): they open a field only outside a message.
_WEAK = frozenset(
    {
        "date",
        "heure",
        "time",
        "lieu",
        "adresse",
        "adresse postale",
        "code postal",
        "ville",
        "pays",
        "date de l'incident",
    }
)
_KNOWN = _EMAIL | _MAILBOX | _FULL_NAME | _FIRST_NAME | _LAST_NAME | _MESSAGE | _OTHER


_REQUIRED_MARK = re.compile(r"\((?:obligatoire|requis|required|optionnel|optional|facultatif)\)|\*")
_POSSESSIVE = re.compile(r"^(?:votre|vos|your|ton|ta)\s+")
_WPFORMS_OPENING = re.compile(r"-{2,}\s*(?=\S)")
# `\s*(?:\*{1,2}\s*)?` rather than `\s*\*{0,2}\s*`: the same lines, but a run of blanks can be split
# between the two only one way, where the old form tried every split: a line of 20,000 characters
# took over 20 seconds (issue 14).
_LABEL_AND_VALUE = re.compile(r"\*{0,2}(?P<label>[^:\uff1a]{1,40}?)\s*(?:\*{1,2}\s*)?[:\uff1a]\s*\*{0,2}(?P<value>.*)")
_SEPARATOR = re.compile(r"^(?:-{2,}|_{3,}|={3,}|\*{3,})$")
# The plugins' own closing line (WPForms, Contact Form 7 without its "--"): not the claimant's words.
_FOOTER = re.compile(
    r"^(?:envoye depuis|envoye via|envoye a partir|sent from|sent via|this e-?mail was sent|"
    r"cet e-?mail a ete envoye|ce (?:message|courriel|mail) a ete envoye)\b"
)
_LABEL_SHAPE = re.compile(r"^[^\W\d_][\w'\u2019 \u00a0\u202f°/&()+.,-]*$")
# Starts only where a run of local-part characters starts (else quadratic on a long run).
_EMAIL_ADDRESS = re.compile(r"(?<![\w.!#$%&'+/=?^`{|}~-])[\w.!#$%&'+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_MACHINE_LOCAL_PART = re.compile(
    r"(?:no|ne)[-_.]?(?:pas[-_.]?)?(?:reply|repondre)|do[-_.]?not[-_.]?reply|donotreply|noreply|wordpress"
    r"|mailer[-_.]?daemon|postmaster|www-data"
)


def read_form(mail: ParsedMail) -> FormSubmission:
    """The fields, claimant and message of a website form notification.

    The claimant's address is the first valid one typed in an e-mail field, else the one in
    Contact Form 7's "From:" line, else the mail's Reply-To, else None. The website's own address
    (the From of the notification), the mailbox it writes to, and no-reply style addresses are
    never taken: acknowledging them would reach no claimant.
    """
    fields = _table_fields(mail.html) if mail.html else {}
    if not fields:
        fields = _fields(mail.text)
    keys = {label: normalised_label(label) for label in fields}
    excluded = {address.email for address in (*([mail.from_] if mail.from_ else []), *mail.to)}
    return FormSubmission(
        claimant=_claimant(fields, keys, mail, excluded),
        fields=fields,
        message=_message(fields, keys),
    )


def _undecorated(text: str) -> str:
    """`text` without leading blanks and stars, nor trailing blanks, stars and colons.

    By hand: the pattern `[\\s*:]+$` was searched from every character of a long run of them.
    """
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or text[start] == "*"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in "*:\uff1a"):
        end -= 1
    return text[start:end]


def _wpforms_label(line: str) -> str | None:
    """The label of a WPForms line "--- Label ---", or None.

    The closing dashes are found from the end rather than by a lazy label before `\\s*-{2,}$`,
    which read the rest of the line again after every character of it.
    """
    opening = _WPFORMS_OPENING.match(line)
    if opening is None:
        return None
    rest = line[opening.end() :]
    body = rest.rstrip("-")
    if len(rest) - len(body) < 2:
        return None
    label = body.rstrip()
    return label or None


def normalised_label(label: str) -> str:
    """`label` as looked up: folded, without required marks, possessive or trailing colon."""
    folded = _REQUIRED_MARK.sub(" ", fold(label))
    folded = " ".join(_undecorated(folded).split())
    return _POSSESSIVE.sub("", folded)


@dataclass
class _Open:
    """A field being read; `kind` decides where its value may end."""

    label: str
    kind: str  # "known" (one line), "message" (free text), "unknown" (until any label)
    lines: list[str]


def _kind(key: str) -> str | None:
    if key in _MESSAGE:
        return "message"
    if key in _KNOWN or key in _WEAK:
        return "known"
    return None


def _looks_like_label(text: str) -> bool:
    """Short, starting with a letter, no sentence punctuation: what form builders name fields."""
    text = text.strip()
    return (
        0 < len(text) <= MAX_LABEL_CHARS
        and len(text.split()) <= MAX_LABEL_WORDS
        and "@" not in text
        and not text.endswith((".", "!", "?", ";", ","))
        and bool(_LABEL_SHAPE.match(text))
    )


def _label_line(line: str, current: _Open | None) -> tuple[str, str | None] | None:
    """(label, value on the same line or None) when `line` opens a field."""
    inside_message = current is not None and current.kind == "message" and bool(current.lines)
    wpforms = _wpforms_label(line)
    if wpforms:
        return wpforms, None
    pair = _LABEL_AND_VALUE.match(line)
    if pair:
        label, value = pair.group("label").strip().strip("*").strip(), pair.group("value").strip()
        if value.startswith("//"):  # "https://…": a URL, not a label
            return None
        key = normalised_label(label)
        if key in _KNOWN or (not inside_message and (key in _WEAK or _looks_like_label(label))):
            return label, value or None
        return None
    key = normalised_label(line)
    if key in _KNOWN or (not inside_message and key in _WEAK):
        return _undecorated(line), None
    return None


def _fields(text: str) -> dict[str, str]:
    """The fields of the notification's text, in order.

    Layouts read: "Label: value" (Elementor, Contact Form 7 templates), "Label" then the value on
    the next lines (Gravity Forms and WPForms HTML tables), "--- Label ---" (WPForms plain text).
    A known one-line field takes one line; a message runs until the next known label or a
    separator line ("--", "---"), so that its own colons and short lines stay in it.
    """
    fields: dict[str, str] = {}
    current: _Open | None = None

    def close() -> None:
        if current is None:
            return
        value = "\n".join(current.lines).strip("\n").strip()
        if current.kind == "unknown" and not value:
            return  # a heading such as "Nouveau message :", or a field left empty: nothing to keep
        if not fields.get(current.label):
            fields[current.label] = value

    for raw in text.splitlines():
        line = raw.strip()
        if _SEPARATOR.match(line) or _FOOTER.match(fold(line)):
            close()
            current = None
            continue
        opened = _label_line(line, current) if line else None
        if opened is not None:
            close()
            label, value = opened
            current = _Open(label, _kind(normalised_label(label)) or "unknown", [value] if value else [])
            continue
        if current is None:
            continue  # the plugin's heading, before the first field
        if current.kind == "known" and current.lines:
            if line and _looks_like_label(line):
                # A one-line field is full: a short line now names the next field of a table,
                # one whose label is not in our lists ("Formation concernée" then its value).
                close()
                current = _Open(_undecorated(line), "unknown", [])
            elif line:
                current.lines.append(line)
            continue
        if line or current.lines:
            current.lines.append(line)
    close()
    return fields


def _table_fields(html: str) -> dict[str, str]:
    """Fields of an HTML notification laid out as a two-column table, or {} if it is not one.

    Turned into text, a row "<td>Nom</td><td>Léa Martin</td>" becomes "Nom Léa Martin", where
    nothing tells the label from the value any more; the cells still do. At least two such rows
    are required, one of them with a label we know, so that a layout table around other content
    is not mistaken for a form.
    """
    reader = _TableRows()
    try:
        reader.feed(defused_html(html))  # html.parser is quadratic on constructs never closed
        reader.close()
    except AssertionError:  # html.parser asserts on some malformed "<![" sections
        pass
    fields: dict[str, str] = {}
    for row in reader.rows:
        cells = [cell for cell in row if cell]
        if len(row) != 2 or len(cells) != 2:
            continue
        label = _undecorated(cells[0])
        if label and (normalised_label(label) in _KNOWN or _looks_like_label(label)) and not fields.get(label):
            fields[label] = cells[1]
    known = any(normalised_label(label) in _KNOWN for label in fields)
    return fields if len(fields) >= 2 and known else {}


class _TableRows(HTMLParser):
    """The text of each table cell, row by row; nested tables give their own rows."""

    _SKIPPED = frozenset({"script", "style", "head", "title"})
    _BREAKS = frozenset({"br", "p", "div", "li"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._open_rows: list[list[str]] = []
        self._open_cells: list[list[str]] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag == "tr":
            self._open_rows.append([])
        elif tag in ("td", "th"):
            self._open_cells.append([])
        elif tag in self._BREAKS and self._open_cells:
            self._open_cells[-1].append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in ("td", "th") and self._open_cells:
            text = "".join(self._open_cells.pop()).replace("\u00a0", " ")
            lines = [" ".join(line.split()) for line in text.split("\n")]
            cell = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
            if self._open_rows:
                self._open_rows[-1].append(cell)
        elif tag == "tr" and self._open_rows:
            self.rows.append(self._open_rows.pop())

    def handle_data(self, data: str) -> None:
        if self._open_cells and not self._skipping:
            self._open_cells[-1].append(data)


def _claimant(fields: dict[str, str], keys: dict[str, str], mail: ParsedMail, excluded: set[str]) -> Address | None:
    """The form's address (and name) for the claimant; see `read_form` for the order."""

    def first(labels: frozenset[str]) -> str:
        return next((_first_line(fields[label]) for label, key in keys.items() if key in labels and fields[label]), "")

    # "Nom" next to a "Prénom" field is the family name; alone it is the whole name.
    given = first(_FIRST_NAME)
    name = first(_FULL_NAME - _BARE_NAME) if given else first(_FULL_NAME)
    if given and not name:
        name = " ".join(part for part in (given, first(_LAST_NAME | _BARE_NAME)) if part)
    elif not name:
        name = first(_LAST_NAME)
    for label, key in keys.items():
        if key in _EMAIL:
            address = _typed_address(fields[label], excluded)
            if address:
                return Address(address, name)
    for label, key in keys.items():
        if key in _MAILBOX:
            address = _typed_address(fields[label], excluded)
            if address:
                shown = _EMAIL_ADDRESS.sub(" ", re.sub(r"<[^<>]*>", " ", _first_line(fields[label])))
                return Address(address, name or " ".join(shown.split()).strip(" \"'"))
    for replier in mail.reply_to:
        if _usable(replier.email, excluded):
            return Address(replier.email, name or replier.name)
    return None


def _message(fields: dict[str, str], keys: dict[str, str]) -> str:
    for rank in _MESSAGE_RANKS:
        for label, key in keys.items():
            if key in rank and fields[label]:
                return fields[label]
    return ""


def _first_line(value: str) -> str:
    return value.strip().split("\n", 1)[0].strip()


def _typed_address(value: str, excluded: set[str]) -> str | None:
    """The address typed in a field, lower-cased, if it is one a claimant could have."""
    for match in _EMAIL_ADDRESS.finditer(value.replace("mailto:", " ")):
        address = match.group(0).strip(".").lower()
        if _usable(address, excluded):
            return address
    return None


def _usable(address: str, excluded: set[str]) -> bool:
    local = address.partition("@")[0]
    return bool(address) and address not in excluded and not _MACHINE_LOCAL_PART.fullmatch(local)
