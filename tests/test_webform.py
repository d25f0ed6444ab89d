"""Reading the website's complaint-form notifications as the common WordPress plugins write them."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from inboxbot.domain.message import Address, ParsedMail
from inboxbot.reading.parse import parse
from inboxbot.reading.webform import FormSubmission, normalised_label, read_form

SITE = Address("wordpress@cafemetrie.com", "Cafémétrie")
MAILBOX = Address("reclamations@cafemetrie.com")
LEA = Address("lea.martin@exemple.fr", "Léa Martin")
NBSP = "\u00a0"
SIGNATURE_SEPARATOR = "-- "  # with its trailing space, as mailers write it

MESSAGE = (
    "Bonjour,\n\nLa salle était fermée à notre arrivée : nous avons attendu une heure.\n"
    "Objectif : être remboursée.\n\nLéa"
)


def notification(text: str, reply_to: tuple[Address, ...] = (), from_: Address | None = SITE) -> ParsedMail:
    return ParsedMail(
        message_id="form-1@cafemetrie.com",
        subject="[Cafémétrie] Nouvelle réclamation",
        from_=from_,
        to=(MAILBOX,),
        reply_to=reply_to,
        text=text,
    )


# --- Contact Form 7 --------------------------------------------------------------------------

# The default template in French: the claimant's name and address sit in a "De :" line.
CF7_DEFAULT_FR = f"""De : Léa Martin <Lea.Martin@exemple.fr>
Objet : Salle fermée

Corps du message :
{MESSAGE}

{SIGNATURE_SEPARATOR}
Cet e-mail a été envoyé via le formulaire de contact de Cafémétrie (https://cafemetrie.com)
"""

CF7_DEFAULT_EN = f"""From: Léa Martin <lea.martin@exemple.fr>
Subject: Salle fermée

Message Body:
{MESSAGE}

{SIGNATURE_SEPARATOR}
This e-mail was sent from a contact form on Cafémétrie (https://cafemetrie.com)
"""

# A template the organisation wrote itself, with no-break spaces before the colons.
CF7_CUSTOM = f"""Nouvelle réclamation déposée sur le site.

Nom{NBSP}: Léa Martin
Courriel{NBSP}: lea.martin@exemple.fr
Téléphone{NBSP}: 06 12 34 56 78
Formation suivie{NBSP}: Excel avancé
Objet de la réclamation{NBSP}: {MESSAGE}
"""


def test_contact_form_7_default_french() -> None:
    form = read_form(notification(CF7_DEFAULT_FR))
    assert form == FormSubmission(
        claimant=LEA,
        fields={"De": "Léa Martin <Lea.Martin@exemple.fr>", "Objet": "Salle fermée", "Corps du message": MESSAGE},
        message=MESSAGE,
    )


def test_contact_form_7_default_english() -> None:
    form = read_form(notification(CF7_DEFAULT_EN))
    assert form.claimant == LEA
    assert form.message == MESSAGE
    assert list(form.fields) == ["From", "Subject", "Message Body"]


def test_contact_form_7_custom_template_with_no_break_spaces() -> None:
    form = read_form(notification(CF7_CUSTOM))
    assert form.claimant == LEA
    assert form.fields == {
        "Nom": "Léa Martin",
        "Courriel": "lea.martin@exemple.fr",
        "Téléphone": "06 12 34 56 78",
        "Formation suivie": "Excel avancé",
        "Objet de la réclamation": MESSAGE,
    }
    assert form.message == MESSAGE


# --- WPForms ---------------------------------------------------------------------------------

WPFORMS_TEXT = f"""--- Prénom ---

Léa

--- Nom ---

Martin

--- Adresse e-mail ---

lea.martin@exemple.fr

--- Formation concernée ---

Excel avancé

--- Votre message ---

{MESSAGE}

--- Consentement RGPD ---

J'accepte que mes données soient utilisées pour traiter ma réclamation.

"""


def test_wpforms_plain_text_combines_first_and_last_name() -> None:
    form = read_form(notification(WPFORMS_TEXT))
    assert form.claimant == LEA
    assert form.message == MESSAGE
    assert form.fields["Formation concernée"] == "Excel avancé"
    assert list(form.fields) == [
        "Prénom",
        "Nom",
        "Adresse e-mail",
        "Formation concernée",
        "Votre message",
        "Consentement RGPD",
    ]


def html_notification(html: str, **headers: str) -> ParsedMail:
    mail = EmailMessage()
    mail["From"] = headers.get("From", "Cafémétrie <wordpress@cafemetrie.com>")
    mail["To"] = "reclamations@cafemetrie.com"
    mail["Subject"] = "Nouvelle entrée : Formulaire de réclamation"
    mail["Message-ID"] = "<wpf-1@cafemetrie.com>"
    if "Reply_To" in headers:
        mail["Reply-To"] = headers["Reply_To"]
    mail.set_content(html, subtype="html")
    return parse(bytes(mail))


def test_wpforms_html_through_parse() -> None:
    html = (
        '<table class="body"><tr><td><table class="container"><tr><td class="content">'
        '<table><tr><td class="field-name"><strong>Nom</strong></td></tr><tr><td class="field-value">Léa Martin</td></tr></table>'
        '<table><tr><td class="field-name"><strong>E-mail</strong></td></tr><tr><td class="field-value">lea.martin@exemple.fr</td></tr></table>'
        '<table><tr><td class="field-name"><strong>Message</strong></td></tr><tr><td class="field-value">'
        "Bonjour,<br><br>La salle était fermée.</td></tr></table>"
        '</td></tr></table><p class="footer">Envoyé depuis <a href="https://cafemetrie.com">Cafémétrie</a></p></td></tr></table>'
    )
    form = read_form(html_notification(html))
    assert form.claimant == LEA
    assert form.message == "Bonjour,\n\nLa salle était fermée."
    assert list(form.fields) == ["Nom", "E-mail", "Message"]


# --- Gravity Forms ---------------------------------------------------------------------------


def gravity_row(label: str, value: str) -> str:
    return (
        f'<tr bgcolor="#EAF2FA"><td colspan="2"><font style="font-family: sans-serif; font-size:12px;"><strong>{label}</strong></font></td></tr>'
        f'<tr bgcolor="#FFFFFF"><td width="20">&nbsp;</td><td><font style="font-family: sans-serif; font-size:12px;">{value}</font></td></tr>'
    )


def test_gravity_forms_html_table_through_parse() -> None:
    html = (
        '<html><body><table width="99%" border="0" cellpadding="1" cellspacing="0" bgcolor="#EAEAEA"><tr><td>'
        '<table width="100%" border="0" cellpadding="5" cellspacing="0" bgcolor="#FFFFFF">'
        + gravity_row("Votre nom", "Léa Martin")
        + gravity_row("Votre adresse e-mail", '<a href="mailto:lea.martin@exemple.fr">lea.martin@exemple.fr</a>')
        + gravity_row("Session de formation concernée", "Excel avancé – octobre")
        + gravity_row("Description", "La salle était fermée.<br />Nous avons attendu : une heure.<br /><br />Léa")
        + gravity_row("Type de réclamation", "Logistique")
        + "</table></td></tr></table></body></html>"
    )
    form = read_form(html_notification(html))
    assert form.claimant == LEA
    assert form.fields == {
        "Votre nom": "Léa Martin",
        "Votre adresse e-mail": "lea.martin@exemple.fr",
        "Session de formation concernée": "Excel avancé – octobre",
        "Description": "La salle était fermée.\nNous avons attendu : une heure.\n\nLéa",
        "Type de réclamation": "Logistique",
    }
    assert form.message == "La salle était fermée.\nNous avons attendu : une heure.\n\nLéa"


def test_two_column_html_table_is_read_from_the_cells() -> None:
    # Turned into text these rows read "Nom Léa Martin": only the cells separate label and value.
    html = (
        "<html><head><style>td { padding: 4px }</style></head><body>"
        "<h2>Nouvelle réclamation</h2>"
        '<table cellpadding="4">'
        "<tr><th align='left'>Nom&nbsp;:</th><td>Léa Martin</td></tr>"
        "<tr><th align='left'>Adresse e-mail&nbsp;:</th><td><a href='mailto:lea.martin@exemple.fr'>lea.martin@exemple.fr</a></td></tr>"
        "<tr><th align='left'>Formation</th><td>Excel avancé</td></tr>"
        "<tr><th align='left'>Votre réclamation</th><td><p>La salle était fermée.</p><p>Personne ne répondait.</p></td></tr>"
        "</table></body></html>"
    )
    mail = html_notification(html)
    assert "Nom : Léa Martin" in mail.text or "Nom Léa Martin" in mail.text
    form = read_form(mail)
    assert form.fields == {
        "Nom": "Léa Martin",
        "Adresse e-mail": "lea.martin@exemple.fr",
        "Formation": "Excel avancé",
        "Votre réclamation": "La salle était fermée.\nPersonne ne répondait.",
    }
    assert form.claimant == LEA
    assert form.message == "La salle était fermée.\nPersonne ne répondait."


def test_layout_table_is_not_taken_for_a_form() -> None:
    html = (
        "<table><tr><td>Logo</td><td>Cafémétrie</td></tr><tr><td>Rubrique</td><td>Contact</td></tr></table>"
        "<p>Nom : Léa Martin<br>Courriel : lea.martin@exemple.fr<br>Message : La salle était fermée.</p>"
    )
    form = read_form(html_notification(html))
    assert form.claimant == LEA and form.message == "La salle était fermée."
    assert "Logo" not in form.fields


def test_malformed_html_does_not_stop_the_reading() -> None:
    mail = notification("Nom : Léa Martin\nCourriel : lea.martin@exemple.fr")
    mail = ParsedMail(message_id=None, subject="x", from_=SITE, text=mail.text, html="<table><tr><td>Nom<![foo bar")
    assert read_form(mail).claimant == LEA


# --- Elementor -------------------------------------------------------------------------------

ELEMENTOR_FR = f"""Nom: Léa Martin
E-mail: lea.martin@exemple.fr
Message: {MESSAGE}

---

Date: 3 novembre 2026
Heure: 10:12
URL de la page: https://cafemetrie.com/reclamation/
Agent utilisateur: Mozilla/5.0 (Windows NT 10.0; Win64; x64)
IP distante: 203.0.113.7
Propulsé par: Elementor
"""

ELEMENTOR_EN = f"""Name: Léa Martin
Email: lea.martin@exemple.fr
Message: {MESSAGE}

---

Date: November 3, 2026
Time: 10:12 am
Page URL: https://cafemetrie.com/complaint/
User Agent: Mozilla/5.0
Remote IP: 203.0.113.7
Powered by: Elementor
"""


@pytest.mark.parametrize("text", [ELEMENTOR_FR, ELEMENTOR_EN], ids=["fr", "en"])
def test_elementor(text: str) -> None:
    form = read_form(notification(text))
    assert form.claimant == LEA
    assert form.message == MESSAGE
    assert len(form.fields) == 9
    assert list(form.fields.values())[5].startswith("https://cafemetrie.com/")


# --- finding the claimant --------------------------------------------------------------------


def test_reply_to_is_the_fallback_when_no_field_holds_an_address() -> None:
    text = "Nom : Léa Martin\nTéléphone : 06 12 34 56 78\nMessage : La salle était fermée."
    form = read_form(notification(text, reply_to=(Address("lea.martin@exemple.fr", "L. Martin"),)))
    assert form.claimant == LEA  # the form's name wins over the Reply-To display name
    assert form.message == "La salle était fermée."


def test_reply_to_through_parse() -> None:
    html = "<p><b>Message</b><br>La salle était fermée.</p>"
    form = read_form(html_notification(html, Reply_To="Léa Martin <lea.martin@exemple.fr>"))
    assert form.claimant == LEA


def test_an_invalid_typed_address_falls_back_to_reply_to() -> None:
    text = "Nom : Léa Martin\nCourriel : lea.martin(at)exemple.fr\nMessage : x"
    form = read_form(notification(text, reply_to=(Address("lea.martin@exemple.fr"),)))
    assert form.claimant == LEA
    assert form.fields["Courriel"] == "lea.martin(at)exemple.fr"


def test_no_address_anywhere_gives_no_claimant() -> None:
    text = "Nom : Léa Martin\nCourriel : lea.martin chez exemple\nMessage : La salle était fermée."
    form = read_form(notification(text))
    assert form.claimant is None
    assert form.fields["Nom"] == "Léa Martin" and form.message == "La salle était fermée."


@pytest.mark.parametrize(
    ("text", "reply_to"),
    [
        pytest.param("Courriel : wordpress@cafemetrie.com\nMessage : x", (), id="field-holds-the-site-address"),
        pytest.param("From: Cafémétrie <WordPress@cafemetrie.com>\nMessage Body:\nx", (), id="cf7-from-is-the-site"),
        pytest.param("Message : x", (SITE,), id="reply-to-is-the-site"),
        pytest.param("Message : x", (Address("no-reply@cafemetrie.com"),), id="reply-to-no-reply"),
        pytest.param("Message : x", (Address("ne-pas-repondre@cafemetrie.com"),), id="reply-to-ne-pas-repondre"),
        pytest.param("Message : x", (MAILBOX,), id="reply-to-is-our-own-mailbox"),
    ],
)
def test_the_website_never_becomes_the_claimant(text: str, reply_to: tuple[Address, ...]) -> None:
    assert read_form(notification(text, reply_to=reply_to)).claimant is None


def test_site_address_in_a_field_is_skipped_for_the_next_one() -> None:
    text = "E-mail : no-reply@cafemetrie.com\nE-mail de contact : lea.martin@exemple.fr\nNom complet : Léa Martin"
    assert read_form(notification(text, from_=Address("no-reply@cafemetrie.com"))).claimant == LEA


def test_typed_address_wins_over_reply_to() -> None:
    text = "Votre e-mail * : Lea.Martin@Exemple.fr\nNom complet : Léa Martin"
    form = read_form(notification(text, reply_to=(Address("autre@exemple.fr"),)))
    assert form.claimant == LEA
    assert list(form.fields) == ["Votre e-mail", "Nom complet"]  # the required-field star is not the label


def test_name_without_address_field_uses_the_form_name_with_reply_to() -> None:
    text = "Prénom : Léa\nNom : Martin\nMessage : x"
    assert read_form(notification(text, reply_to=(Address("lea.martin@exemple.fr"),))).claimant == LEA


# --- the message -----------------------------------------------------------------------------


def test_message_runs_until_the_next_known_label_and_keeps_its_colons() -> None:
    text = (
        "Nom : Léa Martin\n"
        "Message :\nBonjour,\nVoici les faits :\nDate : le 3 novembre, la salle était fermée.\nRemarque : personne ne répondait.\n\n"
        "Téléphone : 06 12 34 56 78\n"
        "Adresse e-mail : lea.martin@exemple.fr\n"
    )
    form = read_form(notification(text))
    assert form.message == (
        "Bonjour,\nVoici les faits :\nDate : le 3 novembre, la salle était fermée.\nRemarque : personne ne répondait."
    )
    assert form.claimant == LEA
    assert form.fields["Téléphone"] == "06 12 34 56 78"


def test_message_field_is_preferred_to_a_short_complaint_subject() -> None:
    text = (
        "Objet de la réclamation : Retard\nMessage : Le formateur est arrivé avec une heure de retard.\nE-mail : a@b.fr"
    )
    form = read_form(notification(text))
    assert form.message == "Le formateur est arrivé avec une heure de retard."
    assert form.fields["Objet de la réclamation"] == "Retard"


def test_no_recognisable_message() -> None:
    form = read_form(notification("Nom : Léa Martin\nE-mail : lea.martin@exemple.fr\nFormation : Excel"))
    assert form.message == ""
    assert form.fields == {"Nom": "Léa Martin", "E-mail": "lea.martin@exemple.fr", "Formation": "Excel"}


def test_not_a_form_at_all() -> None:
    form = read_form(notification("Bonjour,\n\nJe souhaite faire une réclamation concernant la session.\n\nLéa"))
    assert form == FormSubmission(claimant=None, fields={}, message="")


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("Votre adresse e-mail *", "adresse e-mail"),
        (f"Courriel{NBSP}:", "courriel"),
        ("E-MAIL (obligatoire)", "e-mail"),
        ("Prénom + Nom", "prenom + nom"),
        ("Your Name", "name"),
    ],
)
def test_normalised_label(label: str, key: str) -> None:
    assert normalised_label(label) == key
