"""Mistakes undone by mail, two cases made one, and an urgent case told at once (issue 16).

End to end through Dovecot and the SMTP sink, the clock pinned as in test_procedure: the director
writes commands to herself; the claimant, the register and the history show what changed, and the
history keeps both values.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from conftest import MailAccount
from e2e import invoke
from mails import make_mail
from servers import SmtpSink
from test_accounts import make_bot
from test_procedure import DIRECTOR, LEA, Bot, command_report, text_of

LEA_ADDRESS = "lea.martin@example.fr"


@pytest.fixture
def bot_maker(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> Callable[[str], Bot]:
    return lambda extra="": make_bot(tmp_path / "bot", mail_account, smtp_sink, extra=extra)


@pytest.fixture
def bot(bot_maker: Callable[[str], Bot]) -> Bot:
    return bot_maker("")


def in_french(day: date) -> str:
    return format_date(day, format="full", locale="fr_FR")


def history(case: dict[str, Any], event: str) -> list[str]:
    return [e["detail"] for e in case["history"] if e["event"] == event]


def notices(bot: Bot, words: str) -> list[Any]:
    return [m for m in bot.sent_to(LEA_ADDRESS) if words in m.subject]


# --- undo by mail ----------------------------------------------------------------------------------------


def test_an_extension_is_brought_forward_then_cancelled_and_the_claimant_told_each_new_date(bot: Bot) -> None:
    bot.claim()
    bot.note_to_self("[Dossier 2026-0001]", "#prolonger 30 attente du retour du financeur")
    bot.cycle()
    response_due = date.fromisoformat(bot.case()["response_due"])
    extended = date.fromisoformat(bot.case()["extended_response_due"])
    target = response_due + timedelta(days=12)

    bot.note_to_self("[Dossier 2026-0001]", f"#prolonger jusqu'au {target:%d/%m/%Y}")
    bot.cycle()
    case = bot.case()
    shortened = date.fromisoformat(case["extended_response_due"])
    assert target - timedelta(days=4) <= shortened <= target and shortened.weekday() < 5
    assert case["extension_reason"] == "attente du retour du financeur"  # the reason stays
    assert history(case, "extension-changed") == [f"{extended:%d/%m/%Y} → {shortened:%d/%m/%Y}"]
    (earlier,) = notices(bot, "Nouvelle date de réponse")
    body = text_of(earlier.message)
    assert "nous pourrons vous répondre plus tôt" in body and in_french(shortened) in body
    assert in_french(extended) in body and earlier.message["In-Reply-To"]

    bot.note_to_self("[Dossier 2026-0001]", "#prolongation annuler prolongation saisie par erreur")
    bot.cycle()
    case = bot.case()
    assert case["extended_response_due"] is None and case["extension_reason"] is None
    assert history(case, "extension-cancelled") == [
        f"{shortened:%d/%m/%Y} → {response_due:%d/%m/%Y} : prolongation saisie par erreur"
    ]
    last = notices(bot, "Nouvelle date de réponse")[-1]
    assert in_french(response_due) in text_of(last.message) and len(notices(bot, "Nouvelle date")) == 2
    assert "prolongation annulée" in command_report(bot)

    bot.note_to_self("[Dossier 2026-0001]", "#prolonger annuler")
    bot.cycle()
    assert "n'a pas de prolongation" in command_report(bot) and len(notices(bot, "Nouvelle date")) == 2


def test_a_date_that_is_no_extension_is_refused_and_a_first_one_needs_its_reason(bot: Bot) -> None:
    bot.claim()
    response_due = date.fromisoformat(bot.case()["response_due"])
    bot.note_to_self("[Dossier 2026-0001]", f"#prolonger jusqu'au {response_due - timedelta(days=3):%d/%m/%Y}")
    bot.cycle()
    assert "n'est pas une prolongation" in command_report(bot)
    later = response_due + timedelta(days=20)
    bot.note_to_self("[Dossier 2026-0001]", f"#prolonger jusqu'au {later:%d/%m/%Y}")
    bot.cycle()
    assert "Il manque le motif" in command_report(bot) and bot.case()["extended_response_due"] is None
    bot.note_to_self("[Dossier 2026-0001]", f"#prolonger jusqu'au {later:%d/%m/%Y} motif : expertise en cours")
    bot.cycle()
    case = bot.case()
    assert case["extension_reason"] == "expertise en cours" and case["extended_response_due"] is not None
    (notice,) = notices(bot, "prolongé")
    assert "expertise en cours" in text_of(notice.message)


def test_an_action_is_changed_then_cancelled_and_the_history_keeps_both_values(bot: Bot) -> None:
    bot.claim()
    bot.note_to_self(
        "[Dossier 2026-0001]",
        "#corrective Vérifier les envois ; responsable : Alice ; échéance : 31/01/2027\n#preventive Checklist de fin",
    )
    bot.cycle()
    bot.note_to_self(
        "[Dossier 2026-0001]",
        "#action 1 modifier Vérifier chaque envoi d'attestation ; échéance : 15/02/2027\n"
        "#action 2 annuler saisie en double\n#action 9 annuler",
    )
    bot.cycle()
    case = bot.case()
    (action,) = case["actions"]
    assert (action["number"], action["text"], action["owner"], action["due"]) == (
        1, "Vérifier chaque envoi d'attestation", "Alice", "2027-02-15",
    )  # fmt: skip
    assert history(case, "action-edited") == [
        "1. texte : « Vérifier les envois » → « Vérifier chaque envoi d'attestation » ; "
        "échéance : « 31/01/2027 » → « 15/02/2027 »"
    ]
    assert history(case, "action-cancelled") == ["2. action préventive : Checklist de fin — saisie en double"]
    report = command_report(bot)
    assert report.count("✓") == 2 and "pas d'action n° 9" in report


# --- #fusionner ------------------------------------------------------------------------------------------


def test_two_cases_of_one_person_are_merged_keeping_both_histories_and_the_earliest_reception(bot: Bot) -> None:
    three_days_ago = bot.now - timedelta(days=3)  # her first mail, received three days before the second
    bot.account.append(
        make_mail(LEA, DIRECTOR, "Réclamation : attestation non reçue", "Je n'ai pas reçu mon attestation."),
        internaldate=three_days_ago,
    )
    bot.cycle()
    bot.account.append(
        make_mail(
            "Léa Martin <lea@perso.example>", DIRECTOR, "Réclamation : toujours pas d'attestation", "Je relance.",
            message_id=make_msgid(domain="perso.example"),
        )
    )  # fmt: skip
    bot.cycle()
    first, second = bot.cases()
    first_ack = next(m for m in bot.sent_to(LEA_ADDRESS) if "2026-0001" in m.subject)

    bot.note_to_self(
        "Fusion",
        "#fusionner 2026-0002 2026-0002\n#fusionner 2026-0001 dans 2026-0002 même stagiaire, deux adresses",
    )
    bot.cycle()
    report = command_report(bot)
    assert "ne peut être fusionné dans lui-même" in report
    assert "Dossier 2026-0001 fusionné dans le dossier 2026-0002" in report
    assert "le dossier 2026-0002 prend la date de réception du" in report
    merged, kept = bot.cases()
    assert merged["status"] == "closed" and merged["merged_into"] == "2026-0002"
    assert kept["status"] == "open" and kept["received_at"] == first["received_at"]  # the earliest reception
    assert kept["response_due"] == first["response_due"] and kept["acknowledge_due"] == first["acknowledge_due"]
    assert second["received_at"] != first["received_at"]
    texts = [m["text"] for m in kept["messages"]]
    assert any("Je n'ai pas reçu mon attestation" in t for t in texts) and any("Je relance" in t for t in texts)
    assert history(merged, "merged") == ["dans le dossier 2026-0002 : même stagiaire, deux adresses"]
    (joined,) = history(kept, "merged-in")
    assert joined.startswith(f"dossier 2026-0001 ({LEA_ADDRESS}, réclamation, reçu le")
    assert any(d.startswith("[2026-0001] ") for d in history(kept, "received"))  # M's history copied, marked
    assert any(
        e["event"] == "set:received" and "réception du dossier 2026-0001" in e["detail"] for e in kept["history"]
    )
    csv = bot.config.parent / "registre.csv"
    assert invoke(bot.config, "register", "export", "--format", "csv", "--output", str(csv)).code == 0
    assert "fusionnée dans 2026-0002" in csv.read_text(encoding="utf-8-sig")

    # Léa answers the first acknowledgement: her reply lands in the kept case, not on a closed one.
    bot.account.append(
        make_mail(
            LEA, DIRECTOR, f"RE: {first_ack.subject}", "Merci, j'attends.", in_reply_to=first_ack.message["Message-ID"]
        )
    )
    bot.cycle()
    merged, kept = bot.cases()
    assert any("Merci, j'attends" in m["text"] for m in kept["messages"])
    assert not [m for m in bot.sent_to(DIRECTOR) if "dossier clos" in m.subject]

    # Her command on the merged number is pointed to the kept one; a closed case takes no merge.
    bot.note_to_self("[Dossier 2026-0001]", "#note appel")
    bot.cycle()
    assert "a été fusionné dans le dossier 2026-0002" in command_report(bot)


def test_a_case_is_not_merged_into_a_closed_one_and_a_kind_that_differs_is_said(bot: Bot) -> None:
    bot.claim()
    bot.account.append(make_mail("Marc <marc@example.fr>", DIRECTOR, "[ALÉA] Salle fermée", "Dégât des eaux."))
    bot.cycle()
    bot.note_to_self("[Dossier 2026-0001]", "#réponse téléphone excuses\n#clore")
    bot.cycle()
    bot.note_to_self("Fusion", "#fusionner 2026-0001 2026-0002")
    bot.cycle()
    assert "est clos : rouvrez-le d'abord (« #rouvrir 2026-0001 »)" in command_report(bot)
    assert bot.case("2026-0002")["merged_into"] is None
    bot.note_to_self("Fusion", "#rouvrir 2026-0001\n#fusionner 2026-0001 2026-0002")
    bot.cycle()
    report = command_report(bot)
    assert "le dossier 2026-0002 était un aléa, le dossier 2026-0001 reste une réclamation" in report
    assert bot.case("2026-0002")["merged_into"] == "2026-0001"


# --- an urgent case is told at once ----------------------------------------------------------------------


def alerts(bot: Bot) -> list[Any]:
    return [m for m in bot.sent_to(DIRECTOR) if "Dossier urgent" in m.subject]


def test_a_case_made_urgent_by_her_command_alerts_her_once(bot: Bot) -> None:
    bot.claim()
    bot.note_to_self("[Dossier 2026-0001]", "#priorité urgente")
    bot.cycle()
    (alert,) = alerts(bot)
    body = text_of(alert.message)
    assert "[Dossier 2026-0001]" in alert.subject and "est désormais urgent" in body and LEA_ADDRESS in body
    assert "#urgence" in body
    bot.cycle()
    bot.cycle(timedelta(minutes=5))  # restarts send nothing twice
    bot.note_to_self("[Dossier 2026-0001]", "#priorité urgente")  # already urgent: no second alert
    bot.cycle()
    assert len(alerts(bot)) == 1
    bot.note_to_self("[Dossier 2026-0001]", "#priorité normale")
    bot.cycle()
    bot.note_to_self("[Dossier 2026-0001]", "#priorité urgente")  # urgent again: told again
    bot.cycle()
    assert len(alerts(bot)) == 2


def test_a_case_a_rule_opens_as_urgent_alerts_her_at_once(tmp_path: Path, bot_maker: Callable[[str], Bot]) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "15-urgent.toml").write_text(
        '[[rule]]\nname = "mise-en-demeure"\ndescription = "Mise en demeure : urgente"\naction = "claim"\n'
        'kind = "reclamation"\npriority = "urgente"\n[rule.when]\nsubject = "mise en demeure"\n',
        encoding="utf-8",
    )
    bot = bot_maker(f'[rules]\ndir = "{rules}"\n')
    bot.account.append(make_mail(LEA, DIRECTOR, "Mise en demeure", "Je vous mets en demeure de me rembourser."))
    bot.cycle()
    (alert,) = alerts(bot)
    body = text_of(alert.message)
    assert "(règle 15-urgent.toml:mise-en-demeure)" in body
    assert "Je vous mets en demeure" in body, body
    assert bot.case()["priority"] == "urgente"
    bot.cycle()
    assert len(alerts(bot)) == 1
    assert any(e["event"] == "urgent-alert" for e in bot.case()["history"])
