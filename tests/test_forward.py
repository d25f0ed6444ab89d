"""Finding the original author of a claim a third party forwarded, as real mail clients write it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from inboxbot.domain.message import Address, Attachment, ParsedMail
from inboxbot.reading.forward import (
    MAX_NESTING,
    ForwardedMail,
    extract_forwarded,
    mailbox,
    parse_date,
    same_subject,
    says_forwarded,
    strip_forward_prefixes,
)
from inboxbot.reading.parse import parse

PARIS_WINTER = timezone(timedelta(hours=1))
NBSP = "\u00a0"
NNBSP = "\u202f"

DIRECTOR = Address("alice@cafemetrie.com", "Alice Directrice")
LEA = Address("lea.martin@exemple.fr", "Léa Martin")
NOV_3 = datetime(2026, 11, 3, 10, 12, tzinfo=PARIS_WINTER)

BODY = "Bonjour,\n\nLa salle de formation était fermée à notre arrivée.\nMerci de faire le nécessaire.\n\nLéa"


def forwarded(text: str, subject: str = "TR: Réclamation session Excel") -> ParsedMail:
    return ParsedMail(message_id="fwd-1@cafemetrie.com", subject=subject, from_=DIRECTOR, text=text)


def quoted(text: str, prefix: str = "> ") -> str:
    return "\n".join(f"{prefix}{line}".rstrip() if line else prefix.rstrip() for line in text.split("\n"))


# --- inline forwards, client by client -------------------------------------------------------

GMAIL_EN = f"""Hi, see below: a complaint received by the venue.

---------- Forwarded message ---------
From: Léa Martin <lea.martin@exemple.fr>
Date: Mon, Nov 3, 2026 at 10:12 AM
Subject: Salle fermée
To: <accueil@lieu-formation.fr>
Cc: Bob <bob@lieu-formation.fr>, Carol <carol@lieu-formation.fr>


{BODY}
"""

# Gmail in French localises only the marker and "De :"; the other labels stay English.
GMAIL_FR = f"""Bonjour,

Je vous transmets la réclamation reçue ce matin.

Alice
---------- Message transféré ---------
De : Léa Martin <lea.martin@exemple.fr>
Date: lun. 3 nov. 2026 à 10:12
Subject: Salle fermée
To: Accueil <accueil@lieu-formation.fr>


{BODY}
"""

# Thunderbird separates label and value with a tab and, in French, a no-break space before ":".
THUNDERBIRD_FR = f"""


-------- Message transféré --------
Sujet{NBSP}: \tSalle fermée
Date{NBSP}: \tMon, 3 Nov 2026 10:12:00 +0100
De{NBSP}: \tLéa Martin <lea.martin@exemple.fr>
Pour{NBSP}: \taccueil@lieu-formation.fr



{BODY}
"""

THUNDERBIRD_EN = f"""Forwarding as discussed.

-------- Forwarded Message --------
Subject: \tSalle fermée
Date: \tMon, 3 Nov 2026 10:12:00 +0100
From: \tLéa Martin <lea.martin@exemple.fr>
Reply-To: \tlea.martin@exemple.fr
To: \taccueil@lieu-formation.fr, formation@partenaire.fr,
 direction@partenaire.fr



{BODY}
"""

OUTLOOK_FR = f"""Bonjour,

Ci-dessous une réclamation d'une stagiaire.

Cordialement,
Paul – Structure d'accueil

________________________________
De : Léa Martin <lea.martin@exemple.fr>
Envoyé : lundi 3 novembre 2026 10:12
À : Accueil <accueil@lieu-formation.fr>
Cc : Direction <direction@lieu-formation.fr>
Objet : Salle fermée

{BODY}
"""

OUTLOOK_EN = f"""Please see below.

-----Original Message-----
From: Léa Martin [mailto:lea.martin@exemple.fr]
Sent: Monday, November 3, 2026 10:12 AM
To: Reception <reception@venue.example>
Subject: Salle fermée
Importance: High

{BODY}
"""

OUTLOOK_FR_MAILTO = f"""Pour traitement.

-----Message d'origine-----
De{NNBSP}: Léa Martin [mailto:lea.martin@exemple.fr]
Envoyé{NNBSP}: lundi 3 novembre 2026 10:12
À{NNBSP}: accueil@lieu-formation.fr
Objet{NNBSP}: Salle fermée

{BODY}
"""

# New Outlook and OWA: no separator at all, the block simply opens a paragraph.
OUTLOOK_UNMARKED = f"""Bonjour Alice,

Voici le message de Léa.

De : Léa Martin <lea.martin@exemple.fr>
Envoyé : lundi 3 novembre 2026 10:12
À : accueil@lieu-formation.fr
Objet : Salle fermée

{BODY}
"""

# Gmail's text/plain of a forward whose original was HTML: starred labels and mailto links.
OUTLOOK_VIA_GMAIL_TEXT = f"""---------- Forwarded message ---------
*From:* Léa Martin <lea.martin@exemple.fr <mailto:lea.martin@exemple.fr>>
*Sent:* Monday, November 3, 2026 10:12 AM
*To:* Accueil <accueil@lieu-formation.fr>
*Subject:* Salle fermée

{BODY}
"""

APPLE_EN = f"""

Sent from my iPhone

Begin forwarded message:

> From: Léa Martin <lea.martin@exemple.fr>
> Subject: Salle fermée
> Date: 3 November 2026 at 10:12:00 CET
> To: accueil@lieu-formation.fr
>
{quoted(BODY)}
"""

APPLE_FR = f"""Envoyé de mon iPad

Début du message réexpédié :

De: Léa Martin <lea.martin@exemple.fr>
Objet: Salle fermée
Date: 3 novembre 2026 à 10:12:00 UTC+1
À: accueil@lieu-formation.fr

{BODY}
"""

YAHOO_FR = f"""Bonjour, pour info.

----- Mail transféré -----
De : Léa Martin <lea.martin@exemple.fr>
À : accueil@lieu-formation.fr
Envoyé : lundi 3 novembre 2026 à 10:12
Objet : Salle fermée

{BODY}
"""

# Orange webmail quotes what it forwards and dates it in its marker.
ORANGE = f"""Bonjour,
voici le mail de la stagiaire.

{
    quoted(f'''Message du 03/11/26 10:12
De : "Léa Martin" <lea.martin@exemple.fr>
A : accueil@lieu-formation.fr
Copie à :{" "}
Objet : Salle fermée

{BODY}''')
}
"""


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(GMAIL_EN, id="gmail-en"),
        pytest.param(GMAIL_FR, id="gmail-fr"),
        pytest.param(THUNDERBIRD_FR, id="thunderbird-fr-nbsp-tabs"),
        pytest.param(THUNDERBIRD_EN, id="thunderbird-en-wrapped-to"),
        pytest.param(OUTLOOK_FR, id="outlook-fr-underscores"),
        pytest.param(OUTLOOK_EN, id="outlook-en-original-message-mailto"),
        pytest.param(OUTLOOK_FR_MAILTO, id="outlook-fr-narrow-nbsp"),
        pytest.param(OUTLOOK_UNMARKED, id="outlook-unmarked"),
        pytest.param(OUTLOOK_VIA_GMAIL_TEXT, id="gmail-text-of-html-forward"),
        pytest.param(APPLE_EN, id="apple-en-quoted"),
        pytest.param(APPLE_FR, id="apple-fr"),
        pytest.param(YAHOO_FR, id="yahoo-fr"),
        pytest.param(ORANGE, id="orange-quoted"),
        pytest.param(quoted(GMAIL_FR), id="gmail-fr-all-quoted"),
        pytest.param(quoted(OUTLOOK_FR, ">> "), id="outlook-fr-quoted-twice"),
        pytest.param(GMAIL_EN.replace("\n", "\r\n"), id="crlf"),
    ],
)
def test_inline_forwards_name_the_original_author(text: str) -> None:
    found = extract_forwarded(forwarded(text), local_zone=PARIS_WINTER)
    assert found is not None
    assert found.author == LEA
    assert found.subject == "Salle fermée"
    assert found.date == NOV_3
    assert found.text == BODY
    assert found.via == "inline"
    assert found.message_id is None


def test_the_forwarder_is_not_the_author() -> None:
    found = extract_forwarded(forwarded(OUTLOOK_FR))
    assert found is not None and found.author.email != DIRECTOR.email
    assert "Paul" not in found.text and "Ci-dessous" not in found.text


def test_dates_without_a_zone_need_the_callers_zone() -> None:
    gmail = extract_forwarded(forwarded(GMAIL_EN))
    thunderbird = extract_forwarded(forwarded(THUNDERBIRD_EN))
    assert gmail is not None and gmail.date is None
    assert thunderbird is not None and thunderbird.date == NOV_3  # "+0100" was written


def test_address_only_author() -> None:
    text = "---------- Forwarded message ---------\nFrom: <Lea.Martin@Exemple.FR>\nDate: Mon, Nov 3, 2026 at 10:12 AM\nSubject: Salle fermée\n\nBonjour"
    found = extract_forwarded(forwarded(text))
    assert found is not None and found.author == Address("lea.martin@exemple.fr", "")


def test_name_only_author_takes_the_address_from_reply_to() -> None:
    text = (
        "-------- Message transféré --------\n"
        "Sujet : Salle fermée\nDate : Mon, 3 Nov 2026 10:12:00 +0100\n"
        "De : Léa Martin\nRépondre à : lea.martin@exemple.fr\nPour : accueil@lieu-formation.fr\n\nBonjour"
    )
    found = extract_forwarded(forwarded(text))
    assert found is not None and found.author == LEA


def test_envoye_par_gives_the_address_when_from_shows_a_name() -> None:
    text = "De : Léa Martin\nEnvoyé par : lea.martin@exemple.fr\nEnvoyé : lundi 3 novembre 2026 10:12\nObjet : Salle fermée\n\nBonjour"
    found = extract_forwarded(forwarded(text))
    assert found is not None and found.author == LEA


def test_wrapped_author_line_is_joined() -> None:
    text = "-----Original Message-----\nFrom: Léa Martin-Dupont de la Tour d'Auvergne\n[mailto:lea.martin@exemple.fr]\nSent: Monday, November 3, 2026 10:12 AM\nSubject: Salle fermée\n\nBonjour"
    found = extract_forwarded(forwarded(text))
    assert found is not None
    assert found.author == Address("lea.martin@exemple.fr", "Léa Martin-Dupont de la Tour d'Auvergne")
    assert found.text == "Bonjour"


def test_subject_prefixes_and_encoded_words() -> None:
    text = "---------- Forwarded message ---------\nFrom: lea.martin@exemple.fr\nSubject: =?utf-8?q?TR=C2=A0:_Fwd:_R=C3=A9clamation?=\n\nBonjour"
    found = extract_forwarded(forwarded(text))
    assert found is not None and found.subject == "Réclamation"
    assert strip_forward_prefixes("TR: Fwd: RE: Salle") == "RE: Salle"
    assert strip_forward_prefixes("Fw[2]: WG: Salle") == "Salle"


def test_first_block_is_taken_not_the_history_inside_the_forwarded_mail() -> None:
    history = (
        "Je maintiens ma demande.\n\n"
        "De : Alice Directrice <alice@cafemetrie.com>\nEnvoyé : vendredi 31 octobre 2026 09:00\nObjet : Convocation\n\n"
        "Bonjour Léa, voici votre convocation."
    )
    text = f"---------- Forwarded message ---------\nFrom: Léa Martin <lea.martin@exemple.fr>\nSubject: RE: Convocation\n\n{history}"
    found = extract_forwarded(forwarded(text))
    assert found is not None
    assert found.author == LEA
    assert found.subject == "RE: Convocation"
    assert found.text == history


def test_bare_forward_of_a_forward_is_unwrapped() -> None:
    inner = GMAIL_EN.split("\n", 2)[2]  # the venue forwarded Léa's mail without a word
    text = f"---------- Forwarded message ---------\nFrom: Accueil <accueil@lieu-formation.fr>\nDate: Tue, Nov 4, 2026 at 9:00 AM\nSubject: Fwd: Salle fermée\n\n{inner}"
    found = extract_forwarded(forwarded(text))
    assert found is not None and found.author == LEA and found.text == BODY


def test_phone_signature_above_a_nested_forward_is_not_a_comment() -> None:
    inner = GMAIL_EN.split("\n", 2)[2]
    text = f"Envoyé de mon iPhone\n\nDébut du message réexpédié :\n\nDe: Accueil <accueil@lieu-formation.fr>\nObjet: TR: Salle fermée\n\nEnvoyé de mon iPhone\n\n{inner}"
    found = extract_forwarded(forwarded(text))
    assert found is not None and found.author == LEA


def test_forward_with_its_own_comment_keeps_the_intermediary() -> None:
    text = f"---------- Forwarded message ---------\nFrom: Accueil <accueil@lieu-formation.fr>\nSubject: Fwd: Salle fermée\n\nNous confirmons : la salle était fermée.\n\n{GMAIL_EN.split(chr(10), 2)[2]}"
    found = extract_forwarded(forwarded(text))
    assert found is not None and found.author == Address("accueil@lieu-formation.fr", "Accueil")


# --- not forwards ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        pytest.param(BODY, "Réclamation", id="plain-mail"),
        pytest.param(
            "Bonjour,\nJ'ai reçu un mail dont la ligne From: était lea@exemple.fr, est-ce normal ?\nDate: je ne sais plus.\n",
            "Question",
            id="from-in-prose",
        ),
        pytest.param(
            "Bonjour,\n\nDe : mon point de vue, la formation était trop courte.\nObjet : ma réclamation.\n",
            "Réclamation",
            id="de-in-prose-without-address",
        ),
        pytest.param(
            "Bonjour,\nvoici ma remarque.\nFrom: lea.martin@exemple.fr\nSubject: Salle\n\nsuite",
            "Réclamation",
            id="unmarked-block-inside-a-paragraph",
        ),
        pytest.param(
            "Merci pour votre réponse, je ne suis pas d'accord.\n\n"
            "________________________________\nDe : Cafémétrie <contact@cafemetrie.com>\n"
            "Envoyé : lundi 3 novembre 2026 10:12\nÀ : lea.martin@exemple.fr\nObjet : [Dossier 2026-0001] Accusé de réception\n\n"
            "Nous avons bien reçu votre réclamation.",
            "RE: [Dossier 2026-0001] Accusé de réception",
            id="outlook-reply-history",
        ),
        pytest.param(
            "---------- Forwarded message ---------\nFrom: Léa Martin\nDate: Mon, Nov 3, 2026 at 10:12 AM\nSubject: Salle\nTo: <accueil@lieu-formation.fr>\n\nBonjour",
            "Fwd: Salle",
            id="author-without-address",
        ),
        pytest.param(
            "---------- Forwarded message ---------\nFrom: Léa Martin <lea.martin@exemple.fr>\nTo: <accueil@lieu-formation.fr>\n\nBonjour",
            "Fwd: Salle",
            id="author-alone-is-not-a-header-block",
        ),
        pytest.param(
            "Le lun. 3 nov. 2026 à 10:12, Léa Martin <lea.martin@exemple.fr> a écrit :\n> Bonjour",
            "Re: Salle",
            id="gmail-reply-attribution",
        ),
        pytest.param("", "Fwd:", id="empty"),
    ],
)
def test_not_a_forward(text: str, subject: str) -> None:
    assert extract_forwarded(forwarded(text, subject)) is None


def test_reply_subject_does_not_block_an_explicit_forward_marker() -> None:
    assert extract_forwarded(forwarded(GMAIL_EN, subject="RE: suivi")) is not None
    assert extract_forwarded(forwarded(OUTLOOK_FR, subject="RE: TR: suivi")) is not None
    assert extract_forwarded(forwarded(OUTLOOK_FR, subject="RE: suivi")) is None


def test_nameless_nested_author_gives_none_not_the_intermediary() -> None:
    inner = "---------- Forwarded message ---------\nFrom: Léa Martin\nDate: Mon, Nov 3, 2026 at 10:12 AM\nSubject: Salle\n\nBonjour"
    text = f"---------- Forwarded message ---------\nFrom: accueil@lieu-formation.fr\nSubject: Fwd: Salle\n\n{inner}"
    assert extract_forwarded(forwarded(text)) is None


# --- forwarded as an attachment --------------------------------------------------------------


def original_mail(**overrides: str) -> EmailMessage:
    inner = EmailMessage()
    inner["From"] = overrides.get("From", "=?utf-8?q?L=C3=A9a_Martin?= <Lea.Martin@exemple.fr>")
    inner["To"] = "accueil@lieu-formation.fr"
    inner["Subject"] = overrides.get("Subject", "Salle fermée")
    inner["Date"] = format_datetime(NOV_3)
    inner["Message-ID"] = "<original-42@exemple.fr>"
    inner.set_content(BODY)
    return inner


def test_thunderbird_forward_as_attachment_through_parse() -> None:
    outer = EmailMessage()
    outer["From"] = "Alice Directrice <alice@cafemetrie.com>"
    outer["To"] = "reclamations@cafemetrie.com"
    outer["Subject"] = "[RECLAMATION] Fwd: Salle fermée"
    outer["Message-ID"] = "<fwd-7@cafemetrie.com>"
    outer.set_content("Réclamation transmise par la structure d'accueil.\n")
    outer.add_attachment(original_mail())
    mail = parse(bytes(outer))
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]

    found = extract_forwarded(mail)
    assert found == ForwardedMail(
        author=LEA,
        subject="Salle fermée",
        date=NOV_3.astimezone(UTC),
        text=BODY,
        message_id="original-42@exemple.fr",
        via="attachment",
    )


def test_attachment_is_preferred_to_an_inline_copy() -> None:
    attached = Attachment("mail.eml", "message/rfc822", bytes(original_mail(From="vrai@exemple.fr")))
    mail = ParsedMail(message_id="x@y", subject="TR: Salle", from_=DIRECTOR, text=GMAIL_EN, attachments=(attached,))
    found = extract_forwarded(mail)
    assert found is not None and found.author.email == "vrai@exemple.fr" and found.via == "attachment"


def test_attachment_without_author_falls_back_to_the_inline_copy() -> None:
    attached = Attachment("mail.eml", "message/rfc822", b"Subject: sans auteur\r\n\r\ncorps\r\n")
    mail = ParsedMail(message_id="x@y", subject="TR: Salle", from_=DIRECTOR, text=GMAIL_EN, attachments=(attached,))
    found = extract_forwarded(mail)
    assert found is not None and found.author == LEA and found.via == "inline"


def test_saved_eml_file_counts_as_an_attached_mail() -> None:
    attached = Attachment("Salle fermée.eml", "application/octet-stream", bytes(original_mail()))
    mail = ParsedMail(message_id="x@y", subject="Réclamation", from_=DIRECTOR, attachments=(attached,))
    found = extract_forwarded(mail)
    assert found is not None and found.author == LEA and found.message_id == "original-42@exemple.fr"


def test_other_attachments_are_not_forwards() -> None:
    pdf = Attachment("convocation.pdf", "application/pdf", b"%PDF-1.4 From: lea@exemple.fr")
    assert extract_forwarded(ParsedMail(message_id=None, subject="x", from_=DIRECTOR, attachments=(pdf,))) is None


def test_attached_wrapper_that_only_forwards_inline_is_unwrapped() -> None:
    wrapper = EmailMessage()
    wrapper["From"] = "Accueil <accueil@lieu-formation.fr>"
    wrapper["Subject"] = "TR: Salle fermée"
    wrapper.set_content(OUTLOOK_FR.split("________________________________\n", 1)[1])
    wrapper.replace_header("Content-Type", 'text/plain; charset="utf-8"')
    attached = Attachment("TR Salle.eml", "message/rfc822", bytes(wrapper))
    mail = ParsedMail(message_id="x@y", subject="[RECLAMATION]", from_=DIRECTOR, attachments=(attached,))
    found = extract_forwarded(mail, local_zone=PARIS_WINTER)
    assert found is not None
    assert found.author == LEA and found.via == "inline" and found.date == NOV_3 and found.text == BODY


def test_attached_mail_next_to_words_of_its_own_is_evidence_not_a_wrapper() -> None:
    complaint = EmailMessage()
    complaint["From"] = "Léa Martin <lea.martin@exemple.fr>"
    complaint["Subject"] = "Salle fermée"
    complaint.set_content("La salle était fermée ; ci-joint la convocation reçue du formateur.\n")
    complaint.add_attachment(original_mail(From="formateur@exemple.fr", Subject="Convocation"))
    attached = Attachment("Salle fermée.eml", "message/rfc822", bytes(complaint))
    mail = ParsedMail(message_id="x@y", subject="TR: Salle fermée", from_=DIRECTOR, attachments=(attached,))
    found = extract_forwarded(mail)
    assert found is not None and found.author == LEA
    assert found.text == "La salle était fermée ; ci-joint la convocation reçue du formateur."


def test_attached_bare_wrapper_is_unwrapped() -> None:
    wrapper = EmailMessage()
    wrapper["From"] = "Accueil <accueil@lieu-formation.fr>"
    wrapper["Subject"] = "Fwd: Salle fermée"
    wrapper.set_content("Sent from my iPhone\n")
    wrapper.add_attachment(original_mail())
    attached = Attachment("Fwd.eml", "message/rfc822", bytes(wrapper))
    mail = ParsedMail(message_id="x@y", subject="TR: Salle fermée", from_=DIRECTOR, attachments=(attached,))
    found = extract_forwarded(mail)
    assert found is not None and found.author == LEA and found.message_id == "original-42@exemple.fr"


def test_gmail_inline_forward_through_parse() -> None:
    outer = EmailMessage()
    outer["From"] = "Alice Directrice <alice@cafemetrie.com>"
    outer["To"] = "reclamations@cafemetrie.com"
    outer["Subject"] = "[RECLAMATION] Fwd: Salle fermée"
    outer["Message-ID"] = "<fwd-8@cafemetrie.com>"
    outer.set_content(GMAIL_FR, cte="quoted-printable")
    found = extract_forwarded(parse(bytes(outer)), local_zone=PARIS_WINTER)
    assert found is not None
    assert (found.author, found.subject, found.date, found.text) == (LEA, "Salle fermée", NOV_3, BODY)


def test_outlook_html_only_forward_through_parse() -> None:
    html = (
        "<html><body><p>Bonjour,<br>pour traitement.</p>"
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal">'
        "<b>De&nbsp;:</b> Léa Martin &lt;lea.martin@exemple.fr&gt;<br>"
        "<b>Envoyé&nbsp;:</b> lundi 3 novembre 2026 10:12<br>"
        "<b>À&nbsp;:</b> Accueil &lt;accueil@lieu-formation.fr&gt;<br>"
        "<b>Objet&nbsp;:</b> Salle fermée</p></div>"
        "<p>Bonjour,</p><p>La salle de formation était fermée.</p></body></html>"
    )
    outer = EmailMessage()
    outer["From"] = "Paul <paul@lieu-formation.fr>"
    outer["Subject"] = "TR: Salle fermée"
    outer.set_content(html, subtype="html")
    found = extract_forwarded(parse(bytes(outer)), local_zone=PARIS_WINTER)
    assert found is not None
    assert found.author == LEA and found.date == NOV_3 and found.subject == "Salle fermée"
    assert found.text == "Bonjour,\n\nLa salle de formation était fermée."


def test_nested_attachments_are_unwrapped_up_to_a_limit() -> None:
    raw = bytes(original_mail())
    for level in range(12):  # each level base64-encodes the one below: size grows by a third
        wrapper = EmailMessage()
        wrapper["From"] = f"relay{level}@exemple.fr"
        wrapper["Subject"] = "Fwd"
        wrapper.add_attachment(raw, maintype="message", subtype="rfc822")
        raw = bytes(wrapper)
    mail = ParsedMail(
        message_id=None, subject="x", from_=DIRECTOR, attachments=(Attachment("m.eml", "message/rfc822", raw),)
    )
    found = extract_forwarded(mail)
    assert found is not None and found.author.email == f"relay{11 - MAX_NESTING}@exemple.fr"


# --- the pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 3 Nov 2026 10:12:00 +0100", NOV_3),
        ("Mon, 3 Nov 2026 09:12:00 +0000 (UTC)", NOV_3),
        ("3 November 2026 at 10:12:00 CET", NOV_3),
        ("3 novembre 2026 à 10:12:00 UTC+1", NOV_3),
        ("November 3, 2026 at 10:12:00 AM GMT+01:00", NOV_3),
        ("Mon, Nov 3, 2026 at 10:12 AM", NOV_3),
        ("lun. 3 nov. 2026 à 10:12", NOV_3),
        (f"lundi 3{NBSP}novembre 2026 10h12", NOV_3),
        ("Monday, November 3, 2026 10:12 AM", NOV_3),
        ("03/11/2026 10:12", NOV_3),
        ("mar. 3 mars 2026 à 22:05", datetime(2026, 3, 3, 22, 5, tzinfo=PARIS_WINTER)),
        ("Tue, 3 Mar 2026 10:05 PM", datetime(2026, 3, 3, 22, 5, tzinfo=PARIS_WINTER)),
        ("Tuesday, March 3, 2026 12:05 AM", datetime(2026, 3, 3, 0, 5, tzinfo=PARIS_WINTER)),
        ("4 août 2026 à 09:30:00 HAEC", datetime(2026, 8, 4, 9, 30, tzinfo=timezone(timedelta(hours=2)))),
        ("lundi 3 novembre 2026", None),  # no time: not invented
        ("31 février 2026 10:00", None),
        ("hier vers midi", None),
        ("3 nov 2026 10:12 +9999", None),
    ],
)
def test_parse_date(value: str, expected: datetime | None) -> None:
    assert parse_date(value, PARIS_WINTER) == expected


def test_parse_date_without_zone_or_local_zone_is_none() -> None:
    assert parse_date("lundi 3 novembre 2026 10:12") is None
    assert parse_date("Mon, 3 Nov 2026 10:12:00 +0100") == NOV_3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Léa Martin <Lea.Martin@Exemple.fr>", ("lea.martin@exemple.fr", "Léa Martin")),
        ('"Martin, Léa" <lea.martin@exemple.fr>', ("lea.martin@exemple.fr", "Martin, Léa")),
        ("Léa Martin [mailto:lea.martin@exemple.fr]", ("lea.martin@exemple.fr", "Léa Martin")),
        (
            "*Léa Martin* <lea.martin@exemple.fr <mailto:lea.martin@exemple.fr>>",
            ("lea.martin@exemple.fr", "Léa Martin"),
        ),
        ("lea.martin@exemple.fr <lea.martin@exemple.fr>", ("lea.martin@exemple.fr", "")),
        ("Léa Martin (lea.martin@exemple.fr)", ("lea.martin@exemple.fr", "Léa Martin")),
        ("Léa Martin", (None, "Léa Martin")),
    ],
)
def test_mailbox(value: str, expected: tuple[str | None, str]) -> None:
    assert mailbox(value) == expected


def test_an_address_beyond_smtps_limits_is_nobodys() -> None:
    """A forwarded block may be padded by whoever wrote it: no such "address" becomes a claimant."""
    assert mailbox(f"Léa <{'a' * 65}@example.fr>")[0] is None
    assert mailbox(f"Léa <lea@{'b' * 250}.fr>")[0] is None
    assert mailbox(f"Léa <{'a' * 64}@example.fr>")[0] == f"{'a' * 64}@example.fr"


def test_subjects_compare_without_forward_prefixes_accents_or_spacing() -> None:
    assert same_subject("TR: Plainte sur la  salle", "plainte sur la salle")
    assert same_subject("=?utf-8?q?R=C3=A9clamation?=", "Fwd: Reclamation")
    assert not same_subject("RE: Plainte", "Plainte")
    assert not same_subject("Plainte", "Plainte sur la salle")


def test_a_mail_says_it_is_a_forward_by_its_subject_or_an_attached_mail() -> None:
    def mail(subject: str, *attachments: Attachment) -> ParsedMail:
        return ParsedMail(message_id=None, from_=None, subject=subject, attachments=attachments)

    assert says_forwarded(mail("TR: Réclamation")) and says_forwarded(mail("[Lieu] Fwd: salle"))
    assert not says_forwarded(mail("Réclamation formation"))
    attached = Attachment("original.eml", "message/rfc822", b"From: a@b.fr\r\n\r\nx")
    assert says_forwarded(mail("Pour suite", attached))
