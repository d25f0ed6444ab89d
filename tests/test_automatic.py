"""Machine-written mail must never be acknowledged; mail a person wrote always must be."""

from __future__ import annotations

import tracemalloc
from email.message import EmailMessage

import pytest
from mails import large_attachment_mail

from inboxbot.domain.message import LOOP_HEADER
from inboxbot.reading.automatic import automatic_reason, bounced_message_ids
from inboxbot.reading.parse import parse


def human_mail(**headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = headers.pop("From", "Jean Dupont <jean.dupont@example.fr>")
    mail["To"] = "contact@organisme.fr"
    mail["Subject"] = headers.pop("Subject", "Réclamation sur la formation")
    mail["Message-ID"] = "<human-1@example.fr>"
    mail["Return-Path"] = headers.pop("Return_Path", "<jean.dupont@example.fr>")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("Bonjour, je ne suis pas satisfait de la formation.")
    return bytes(mail)


def reason(**headers: str) -> str | None:
    return automatic_reason(parse(human_mail(**headers)))


# --- people ----------------------------------------------------------------------------------


def test_a_person_is_not_automatic() -> None:
    assert reason() is None


def test_outlook_mail_with_auto_response_suppress_all_is_a_person() -> None:
    """Outlook puts this on ordinary mail: it asks *us* not to auto-reply, it is not a sign."""
    assert reason(X_Auto_Response_Suppress="All", X_Mailer="Microsoft Outlook 16.0") is None
    assert reason(X_Auto_Response_Suppress="DR, RN, NRN, OOF, AutoReply") is None


def test_auto_submitted_no_is_a_person() -> None:
    assert reason(Auto_Submitted="no") is None
    assert reason(Auto_Submitted="No (sent by a human)") is None


def test_mail_from_the_mailbox_owner_is_not_automatic_by_itself() -> None:
    assert reason(From="Organisme <contact@organisme.fr>") is None


def test_harmless_headers_with_similar_names_are_a_person() -> None:
    assert reason(Precedence="normal", X_Autoreply="no", X_Priority="1") is None


def test_address_merely_containing_daemon_words_is_a_person() -> None:
    assert reason(From="Marie Postmaster-Dupont <marie.postmasterdupont@example.fr>") is None


# --- machines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"Auto_Submitted": "auto-generated"}, "Auto-Submitted: auto-generated"),
        ({"Auto_Submitted": "Auto-Notified; owner-email=x@y"}, "Auto-Submitted: auto-notified"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"Precedence": "junk"}, "Precedence: junk"),
        ({"Precedence": "List"}, "Precedence: list"),
        ({"Precedence": "auto_reply"}, "Precedence: auto_reply"),
        ({"X_Autoreply": "yes"}, "X-Autoreply: yes"),
        ({"X_Autorespond": "Absence"}, "X-Autorespond: Absence"),
        ({"List_Id": "Formations <formations.lists.example.fr>"}, "List-Id header"),
        ({"List_Unsubscribe": "<mailto:unsub@example.fr>"}, "List-Unsubscribe header"),
        ({"List_Post": "<mailto:list@example.fr>"}, "List-Post header"),
        ({"Return_Path": "<>"}, "Return-Path: <>"),
        ({"Return_Path": "< >"}, "Return-Path: <>"),
        (
            {"From": "MAILER-DAEMON@mx.example.fr"},
            "From: mailer-daemon@mx.example.fr (mailer daemon)",
        ),
        (
            {"From": "Postmaster <postmaster@example.fr>"},
            "From: postmaster@example.fr (mailer daemon)",
        ),
        ({"From": "noreply@example.fr"}, "From: noreply@example.fr (no-reply address)"),
        ({"From": "Service <no-reply@example.fr>"}, "From: no-reply@example.fr (no-reply address)"),
        ({"From": "ne-pas-repondre@caf.fr"}, "From: ne-pas-repondre@caf.fr (no-reply address)"),
        (
            {"From": "NePasRepondre@impots.gouv.fr"},
            "From: nepasrepondre@impots.gouv.fr (no-reply address)",
        ),
        (
            {"From": "factures.ne_pas_repondre@edf.fr"},
            "From: factures.ne_pas_repondre@edf.fr (no-reply address)",
        ),
        ({"From": "do-not-reply@example.com"}, "From: do-not-reply@example.com (no-reply address)"),
        ({"X_Loop": "contact@organisme.fr"}, "X-Loop: contact@organisme.fr"),
        ({LOOP_HEADER.replace("-", "_"): "case-42"}, "X-Inboxbot-Loop header"),
    ],
)
def test_machine_signs(headers: dict[str, str], expected: str) -> None:
    assert reason(**headers) == expected
    # Still seen behind more junk headers than parse keeps: the cap must spare these.
    junk = b"".join(b"X-Junk-%d: x\r\n" % i for i in range(1500))
    assert automatic_reason(parse(junk + human_mail(**headers))) == expected


def test_empty_auto_submitted_is_automatic() -> None:
    raw = b"From: jean@example.fr\r\nAuto-Submitted:\r\nSubject: x\r\n\r\nbody"
    assert automatic_reason(parse(raw)) == "Auto-Submitted: (empty)"


def test_loop_header_constant() -> None:
    assert LOOP_HEADER == "X-Inboxbot-Loop"


def test_own_loop_header_wins_over_weaker_signs() -> None:
    assert reason(Precedence="bulk", **{LOOP_HEADER.replace("-", "_"): ""}) == "X-Inboxbot-Loop header"


def test_exchange_out_of_office_reply() -> None:
    oof = reason(
        Subject="Réponse automatique : Réclamation",
        Auto_Submitted="auto-generated",
        X_Auto_Response_Suppress="All",
        X_MS_Exchange_Inbox_Rules_Loop="jean.dupont@example.fr",
    )
    assert oof == "Auto-Submitted: auto-generated"


def test_auto_submitted_hidden_behind_a_thousand_headers() -> None:
    junk = b"".join(b"X-Junk-%d: x\r\n" % i for i in range(3000))
    raw = b"From: jean@example.fr\r\n" + junk + b"Auto-Submitted: auto-replied\r\n\r\nabsent"
    assert automatic_reason(parse(raw)) == "Auto-Submitted: auto-replied"


# --- delivery reports ------------------------------------------------------------------------


DSN = (
    b"Return-Path: <>\r\n"
    b"From: MAILER-DAEMON@mx.organisme.fr (Mail Delivery System)\r\n"
    b"To: contact@organisme.fr\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"Message-ID: <20240312100000.ABC@mx.organisme.fr>\r\n"
    b"Auto-Submitted: auto-replied\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/report; report-type=delivery-status;\r\n"
    b'\tboundary="DSNB"\r\n\r\n'
    b"--DSNB\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    b"I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
    b"--DSNB\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.organisme.fr\r\n\r\n"
    b"Final-Recipient: rfc822; jean@example.invalid\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
    b"--DSNB\r\nContent-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: contact@organisme.fr\r\nTo: jean@example.invalid\r\n"
    b"Subject: [REC-2024-0042] Accuse de reception\r\n"
    b"Message-ID: <ack-REC-2024-0042@organisme.fr>\r\n"
    b"X-Inboxbot-Loop: REC-2024-0042\r\n\r\nVotre reclamation a bien ete recue.\r\n"
    b"--DSNB--\r\n"
)


def test_dsn_is_automatic() -> None:
    assert automatic_reason(parse(DSN)) == "Auto-Submitted: auto-replied"


def test_report_content_type_alone_is_automatic() -> None:
    raw = DSN.replace(b"Auto-Submitted: auto-replied\r\n", b"").replace(b"Return-Path: <>\r\n", b"")
    assert automatic_reason(parse(raw)) == "Content-Type: multipart/report; report-type=delivery-status"


def test_dsn_yields_the_original_message_id() -> None:
    assert bounced_message_ids(parse(DSN), DSN) == ("ack-REC-2024-0042@organisme.fr",)


def test_dsn_with_headers_only() -> None:
    raw = DSN.replace(b"Content-Type: message/rfc822", b"Content-Type: text/rfc822-headers")
    assert bounced_message_ids(parse(raw), raw) == ("ack-REC-2024-0042@organisme.fr",)


def test_read_receipt_yields_original_message_id() -> None:
    raw = (
        b"From: Jean <jean@example.fr>\r\nTo: contact@organisme.fr\r\nSubject: Lu : accuse\r\n"
        b"Message-ID: <mdn-1@example.fr>\r\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="M"\r\n\r\n'
        b"--M\r\nContent-Type: text/plain\r\n\r\nVotre message a ete lu.\r\n"
        b"--M\r\nContent-Type: message/disposition-notification\r\n\r\n"
        b"Reporting-UA: example.fr; Webmail\r\nFinal-Recipient: rfc822;jean@example.fr\r\n"
        b"Original-Message-ID: <ack-7@organisme.fr>\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n"
        b"--M--\r\n"
    )
    mail = parse(raw)
    assert automatic_reason(mail) == "Content-Type: multipart/report; report-type=disposition-notification"
    assert bounced_message_ids(mail, raw) == ("ack-7@organisme.fr",)


def test_plain_text_bounce_quoting_the_original() -> None:
    raw = (
        b"Return-Path: <>\r\nFrom: MAILER-DAEMON@old.example.fr\r\nTo: contact@organisme.fr\r\n"
        b"Subject: failure notice\r\nMessage-ID: <bounce-9@old.example.fr>\r\n\r\n"
        b"Hi. This is the qmail-send program. I'm afraid I wasn't able to deliver your message.\r\n\r\n"
        b"--- Below this line is a copy of the message.\r\n\r\n"
        b"Return-Path: <contact@organisme.fr>\r\nMessage-ID: <ack-9@organisme.fr>\r\n"
        b"Subject: Accuse de reception\r\n\r\nVotre reclamation...\r\n"
    )
    mail = parse(raw)
    assert automatic_reason(mail) == "Return-Path: <>"
    assert bounced_message_ids(mail, raw) == ("ack-9@organisme.fr",)


def test_forwarded_mail_from_a_person_is_not_a_bounce() -> None:
    inner = EmailMessage()
    inner["From"] = "other@x.fr"
    inner["Message-ID"] = "<forwarded@x.fr>"
    inner.set_content("original")
    outer = EmailMessage()
    outer["From"] = "jean@example.fr"
    outer["Return-Path"] = "<jean@example.fr>"
    outer["Message-ID"] = "<fwd@example.fr>"
    outer.set_content("voir le mail joint")
    outer.add_attachment(inner)
    raw = bytes(outer)
    mail = parse(raw)
    assert automatic_reason(mail) is None
    assert bounced_message_ids(mail, raw) == ()


def test_bounce_that_names_nothing_yields_nothing() -> None:
    raw = (
        b"Return-Path: <>\r\nFrom: MAILER-DAEMON@x.fr\r\nMessage-ID: <own@x.fr>\r\n"
        b"Subject: Undeliverable\r\n\r\nSorry.\r\n"
    )
    assert bounced_message_ids(parse(raw), raw) == ()


def test_a_bounce_carrying_a_large_original_is_read_without_parsing_it_whole() -> None:
    """tracemalloc, not a timing: parsing the whole bounce again cost ten times its size."""
    original = large_attachment_mail(8 * 1024 * 1024)  # Message-ID: <large-8388608@example.fr>
    boundary = "bounce-boundary"
    raw = (
        (
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.fr>\r\nTo: alice@cafemetrie.example\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce@mx.example.fr>\r\n"
            f'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"'
            f"\r\n\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.fr\r\n\r\n"
            f"Final-Recipient: rfc822; lea@example.fr\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
        ).encode()
        + original
        + f"\r\n--{boundary}--\r\n".encode()
    )
    mail = parse(raw)
    tracemalloc.start()
    try:
        found = bounced_message_ids(mail, raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found[0] == "large-8388608@example.fr"
    assert peak < len(raw), f"reading the bounce allocated {peak / len(raw):.1f} times its size"
