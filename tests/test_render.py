"""Templates: French by default, overridable file by file, strict, and safe with claimant text."""

from dataclasses import replace
from datetime import date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import pytest

from inboxbot.bootstrap import shipped
from inboxbot.config import MediatorSettings
from inboxbot.domain.message import Address
from inboxbot.domain.vocabulary import Channel, Kind
from inboxbot.outgoing.outbox import UnsafeHeader, compose, mailbox
from inboxbot.outgoing.render import MAIL_TEMPLATES, PersonView, Renderer, case_view

PARIS = ZoneInfo("Europe/Paris")
DEFAULTS = shipped("templates")
RECEIVED = datetime(2026, 12, 18, 16, 0, tzinfo=ZoneInfo("UTC"))
NO_MEDIATOR = MediatorSettings()


def context(
    subject: str = "Attestation manquante",
    name: str = "Léa Martin",
    kind: str = "reclamation",
    channel: str = "email",
    received_at: datetime = RECEIVED,
    mediator: MediatorSettings = NO_MEDIATOR,
) -> dict[str, object]:
    return {
        "case": case_view(
            number="2026-0001",
            tag="[Dossier 2026-0001]",
            kind=Kind(kind),
            subject=subject,
            received_at=received_at,
            acknowledge_due=date(2027, 1, 12),
            response_due=date(2027, 1, 15),
            channel=Channel(channel),
        ),
        "claimant": PersonView(email="lea@example.fr", name=name),
        "organisation": {"name": "Cafémétrie"},
        "mediator": mediator,
    }


def test_the_shipped_acknowledgement_is_french_with_the_dates_in_paris_time() -> None:
    mail = Renderer([DEFAULTS], PARIS).mail("acknowledgement", **context())
    assert mail.subject == "[Dossier 2026-0001] Accusé de réception : Attestation manquante"
    for body in (mail.text, mail.html):
        assert "Bonjour Léa Martin" in body
        assert "18 décembre 2026 à 17:00" in body  # 16:00 UTC is 17:00 in Paris
        assert "vendredi 15 janvier 2027" in body


def test_every_shipped_template_compiles() -> None:
    Renderer([DEFAULTS], PARIS).check(MAIL_TEMPLATES)


def test_claimant_text_is_escaped_in_html_and_kept_on_one_line_in_the_subject() -> None:
    mail = Renderer([DEFAULTS], PARIS).mail(
        "acknowledgement", **context(subject="<script>alert(1)</script>\r\nBcc: x@evil", name="<b>Léa</b>")
    )
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "<b>Léa</b>" not in mail.html
    assert "\n" not in mail.subject and "\r" not in mail.subject


def test_a_user_template_overrides_one_file_and_the_rest_stay_shipped(tmp_path: Path) -> None:
    (tmp_path / "acknowledgement.subject.j2").write_text("Bien reçu — {{ case.number }}\n")
    mail = Renderer([tmp_path, DEFAULTS], PARIS).mail("acknowledgement", **context())
    assert mail.subject == "Bien reçu — 2026-0001"
    assert "Nous avons bien reçu" in mail.text  # the shipped body is still used


def test_an_undefined_variable_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    (tmp_path / "acknowledgement.txt.j2").write_text("Bonjour {{ claimant.prenom }}")
    with pytest.raises(jinja2.UndefinedError):
        Renderer([tmp_path, DEFAULTS], PARIS).mail("acknowledgement", **context())


def test_a_broken_user_template_is_caught_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "acknowledgement.html.j2").write_text("{% if %}")
    with pytest.raises(jinja2.TemplateSyntaxError):
        Renderer([tmp_path, DEFAULTS], PARIS).check(MAIL_TEMPLATES)


def test_claimant_text_can_never_add_a_header_or_a_recipient() -> None:
    rendered = Renderer([DEFAULTS], PARIS).mail("acknowledgement", **context(subject="x\r\nBcc: victim@example.com"))
    raw = compose(
        sender=Address("alice@cafemetrie.com", "Cafémétrie"),
        recipient=Address("lea@example.fr", "Léa\r\nBcc: other@example.com"),
        rendered=rendered,
        message_id="inboxbot.1@cafemetrie.com",
        date=datetime(2026, 12, 18, tzinfo=PARIS),
        in_reply_to="orig@x\r\nBcc: third@example.com",
    )
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Bcc"] is None
    assert message.get_all("To") == ['"Léa Bcc: other@example.com" <lea@example.fr>']  # one quoted name
    for bad in ("lea@example.fr, other@example.com", "lea@example.fr\r\nBcc: x@y", "<lea@example.fr>"):
        with pytest.raises(UnsafeHeader):
            compose(
                sender=Address("alice@cafemetrie.com"),
                recipient=Address(bad),
                rendered=rendered,
                message_id="inboxbot.2@cafemetrie.com",
                date=datetime(2026, 12, 18, tzinfo=PARIS),
            )


def test_a_lone_surrogate_is_refused_in_an_address_and_shown_as_a_replacement_elsewhere() -> None:
    """What a `surrogateescape` decoder leaves of an undecodable byte cannot be written as UTF-8: an
    address holding one is refused like any unsafe address, a name, subject or text shows « � »."""
    with pytest.raises(UnsafeHeader):
        mailbox("l\udce9a@example.fr")
    rendered = Renderer([DEFAULTS], PARIS).mail("acknowledgement", **context(subject="R\udce9clamation"))
    raw = compose(
        sender=Address("alice@cafemetrie.com", "Cafémétrie"),
        recipient=Address("lea@example.fr", "L\udce9a"),
        rendered=replace(rendered, text=rendered.text + "\nmot \udce9 seul"),
        message_id="inboxbot.3@cafemetrie.com",
        date=datetime(2026, 12, 18, tzinfo=PARIS),
    )
    message = message_from_bytes(raw, policy=policy.default)
    assert message["To"] == "L\ufffda <lea@example.fr>"
    assert "R\ufffdclamation" in message["Subject"]
    assert "mot \ufffd seul" in message.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    "subject",
    [
        "Accusé de réception",
        "[Dossier 2026-0042] Accusé de réception « très long » — problème de facturation ééé 日本語 😀 fin " * 3,
        "é" * 200,
        "😀" * 40,
        "A plain ASCII subject that is long enough to be folded by the mail library itself " * 3,
    ],
    ids=["short", "long-mixed-scripts", "200-accents", "emoji", "long-ascii"],
)
def test_any_subject_and_body_come_back_exactly_and_every_line_stays_short(subject: str) -> None:
    text = "Bonjour Élodie,\nligne finie par des espaces   \n.\nFrom here\n" + "é" * 300 + "\n\tfin\n"
    rendered = Renderer([DEFAULTS], PARIS).mail("acknowledgement", **context())
    rendered = type(rendered)(subject=subject, text=text, html="<p>" + "é" * 300 + "</p>")
    raw = compose(
        sender=Address("alice@cafemetrie.com", "Cafémétrie"),
        recipient=Address("lea@example.fr", "Élodie Lefèvre-Dupont de la Très Grande Maison"),
        rendered=rendered,
        message_id="inboxbot.3@cafemetrie.com",
        date=datetime(2026, 12, 18, tzinfo=PARIS),
    )
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    header_lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert all(len(line) <= 78 for line in header_lines if b"=?utf-8?" in line and not line.startswith(b"To:"))
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == " ".join(subject.split())
    assert message["To"].addresses[0].display_name == "Élodie Lefèvre-Dupont de la Très Grande Maison"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == "<p>" + "é" * 300 + "</p>"


def test_text_that_imitates_the_mime_boundary_stays_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The boundary is chosen without scanning the parts: quoted-printable must keep them apart."""
    monkeypatch.setattr("inboxbot.outgoing.outbox._boundary", lambda: "=_fixed")
    text = "Bonjour,\n--=_fixed\nContent-Type: text/html\n\n<b>faux</b>\n--=_fixed--\nfin =_fixed\n"
    rendered = Renderer([DEFAULTS], PARIS).mail("acknowledgement", **context())
    rendered = type(rendered)(subject="Accusé", text=text, html="<p>--=_fixed--</p>")
    raw = compose(
        sender=Address("alice@cafemetrie.com", "Cafémétrie"),
        recipient=Address("lea@example.fr", "Léa Martin"),
        rendered=rendered,
        message_id="inboxbot.4@cafemetrie.com",
        date=datetime(2026, 12, 18, tzinfo=PARIS),
    )
    assert b'boundary="=_fixed"' in raw
    message = message_from_bytes(raw, policy=policy.default)
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == "<p>--=_fixed--</p>"


def test_a_claim_received_by_post_or_orally_is_spoken_of_as_such_with_the_day_alone_when_only_it_is_known() -> None:
    renderer = Renderer([DEFAULTS], PARIS)
    posted = renderer.mail(
        "acknowledgement", **context(channel="post", received_at=datetime(2026, 11, 20, tzinfo=PARIS))
    )
    for body in (posted.text, posted.html):
        assert (
            "Votre réclamation, reçue par courrier le 20 novembre 2026 (« Attestation manquante »), est enregistrée"
            in body
        )
        assert "00:00" not in body and "votre message" not in body
    oral = renderer.mail("acknowledgement", **context(channel="oral"))
    assert "Votre réclamation, reçue oralement le 18 décembre 2026 à 17:00" in oral.text


def test_an_incident_is_a_masculine_signalement_and_its_tag_is_not_repeated_in_our_subjects() -> None:
    renderer = Renderer([DEFAULTS], PARIS)
    incident = context(subject="[ALÉA] Salle fermée", kind="alea")
    acknowledgement = renderer.mail("incident_acknowledgement", **incident)
    assert acknowledgement.subject == "[Dossier 2026-0001] Signalement enregistré : Salle fermée"
    assert "Votre signalement du 18 décembre 2026 à 17:00 (« Salle fermée ») est enregistré" in acknowledgement.text
    closure = renderer.mail("closure_notice", **incident, note="")
    assert closure.subject == "[Dossier 2026-0001] Clôture de votre signalement"
    assert "Votre signalement n° 2026-0001 (« Salle fermée ») est désormais clôturé." in closure.text
    complaint = renderer.mail("closure_notice", **context(), note="")
    assert "Votre réclamation n° 2026-0001 (« Attestation manquante ») est désormais clôturée." in complaint.text
    assert "ALÉA" not in " ".join((acknowledgement.subject, closure.subject, closure.text))


def test_the_mediator_is_named_in_the_acknowledgement_and_the_closing_mail_only_when_appointed() -> None:
    renderer = Renderer([DEFAULTS], PARIS)
    mediator = MediatorSettings("Médiation Exemple", "https://mediation.example")
    for name, extra in (("acknowledgement", {}), ("closure_notice", {"note": ""})):
        named = renderer.mail(name, **context(mediator=mediator), **extra)
        for body in (named.text, named.html):
            assert (
                "recourir au médiateur que nous avons désigné : Médiation Exemple (https://mediation.example)" in body
            )
        assert "médiateur" not in renderer.mail(name, **context(), **extra).text


# RFC 5322 atext, and what a host name's label may hold (letters of any script, digits, "_", "-").
ATEXT = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-")
LABEL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def test_an_address_takes_exactly_rfc_5322_atext_and_any_non_ascii_character() -> None:
    """Every ASCII character, and a sample of the rest (accents, other scripts, emoji, the last code
    point), between two letters of a local part and of a host name (where a dot separates atoms)."""
    others = ["é", "ß", "日", "Ж", "😀", "\U0010ffff", "\u00a0", "\u0080"]
    for character in [chr(code) for code in range(128)] + others:
        local_ok = character in ATEXT | {"."} or not character.isascii()
        domain_ok = character in LABEL | {"."} or not character.isascii()
        control = ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F
        for address, ok in ((f"a{character}b@example.fr", local_ok), (f"lea@ex{character}mple.fr", domain_ok)):
            if ok and not control:
                assert mailbox(address) == address
            else:
                with pytest.raises(UnsafeHeader):
                    mailbox(address)
