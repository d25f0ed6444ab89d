"""The director's commands: what she writes in her mail client, read into commands or refused with a reason."""

from datetime import date, time

import pytest

from inboxbot.domain import cases, rules
from inboxbot.domain.dates import WrittenDay
from inboxbot.domain.mail_commands import (
    ACTION_STATUSES,
    CHANNELS,
    COMMAND_HELP,
    COMMANDS,
    KINDS,
    NATURES,
    PRIORITIES,
    STAKEHOLDERS,
    Command,
    Refusal,
    parse_commands,
)
from inboxbot.reading.quotes import commands_in

SUBJECT = "RE : [Dossier 2026-0007] Salle trop petite"


def one(text: str, subject: str = SUBJECT) -> Command:
    """The single command `text` holds; fails the test on a refusal."""
    result = parse_commands(text, subject)
    assert len(result) == 1, result
    command = result[0]
    assert isinstance(command, Command), command
    return command


def refused(text: str, subject: str = SUBJECT) -> str:
    """The reason the single command line of `text` is refused."""
    result = parse_commands(text, subject)
    assert len(result) == 1, result
    refusal = result[0]
    assert isinstance(refusal, Refusal), refusal
    assert refusal.line == text.strip()
    return refusal.reason


# --- the vocabulary -----------------------------------------------------------------------------------


def test_values_are_those_the_rest_of_the_program_stores() -> None:
    assert KINDS == cases.KINDS == rules.KINDS
    assert NATURES == rules.NATURES
    assert PRIORITIES == rules.PRIORITIES
    assert STAKEHOLDERS == cases.STAKEHOLDERS
    assert ACTION_STATUSES == cases.ACTION_STATUSES
    assert CHANNELS == cases.CHANNELS == rules.CHANNELS


def test_every_command_is_in_the_help_and_its_example_runs() -> None:
    for spec in COMMANDS:
        assert f"#{spec.words[0]}" in COMMAND_HELP
        assert spec.example in COMMAND_HELP
        command = one(spec.example)
        assert command.name == spec.name
    assert [spec.name for spec in COMMANDS] == [
        "close",
        "kind",
        "nature",
        "priority",
        "stakeholder",
        "training",
        "claimant",
        "extend",
        "cause",
        "corrective",
        "preventive",
        "action",
        "mediation",
        "urgent",
        "note",
        "dismiss",
        "open_mail",
        "discard_mail",
        "merge",
        "reopen",
        "acknowledged",
        "responded",
        "received",
        "channel",
        "transmitter",
        "risk",
        "record",
        "register",
        "report",
        "review",
        "help",
    ]


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("#clore", "close"),
        ("#clôturer", "close"),
        ("#CLOTURER", "close"),
        ("#clos", "close"),
        ("#fermer", "close"),
        ("#close", "close"),
        ("#rouvrir", "reopen"),
        ("#réouvrir", "reopen"),
        ("#Reouvrir", "reopen"),
        ("#reopen", "reopen"),
        ("#médiation", "mediation"),
        ("#Mediation", "mediation"),
        ("#ignorer", "dismiss"),
        ("#classer", "dismiss"),
        ("#sans-suite", "dismiss"),
        ("#ignore", "dismiss"),
    ],
)
def test_command_words_french_english_accents_and_case(line: str, name: str) -> None:
    command = one(line)
    assert command.name == name
    assert command.case_number == "2026-0007"
    assert command.value is None


# --- enum arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("#type reclamation", "kind", "reclamation"),
        ("#type Réclamation", "kind", "reclamation"),
        ("#type plainte", "kind", "reclamation"),
        ("#kind complaint", "kind", "reclamation"),
        ("#TYPE difficulté", "kind", "difficulte"),
        ("#kind difficulty", "kind", "difficulte"),
        ("#type aléa", "kind", "alea"),
        ("#kind incident", "kind", "alea"),
        ("#nature materielle", "nature", "materielle"),
        ("#nature Matérielle", "nature", "materielle"),
        ("#nature organisationnelle", "nature", "organisationnelle"),
        ("#nature organizational", "nature", "organisationnelle"),
        ("#nature organisational", "nature", "organisationnelle"),
        ("#nature human", "nature", "humaine"),
        ("#nature environmental", "nature", "environnementale"),
        ("#priorite haute", "priority", "haute"),
        ("#priorité HAUTE", "priority", "haute"),
        ("#priority high", "priority", "haute"),
        ("#priority low", "priority", "basse"),
        ("#priorite normal", "priority", "normale"),
        ("#priorite urgent", "priority", "urgente"),
        ("#partie apprenant", "stakeholder", "apprenant"),
        ("#partie-prenante stagiaire", "stakeholder", "apprenant"),
        ("#stakeholder learner", "stakeholder", "apprenant"),
        ("#acteur client", "stakeholder", "entreprise"),
        ("#stakeholder company", "stakeholder", "entreprise"),
        ("#partie OPCO", "stakeholder", "financeur"),
        ("#stakeholder funder", "stakeholder", "financeur"),
        ("#partie trainer", "stakeholder", "formateur"),
        ("#partie partner", "stakeholder", "partenaire"),
        ("#partie other", "stakeholder", "autre"),
    ],
)
def test_enum_values_are_canonical_whatever_the_spelling(line: str, name: str, value: str) -> None:
    command = one(line)
    assert (command.name, command.value, command.case_number) == (name, value, "2026-0007")


def test_trailing_period_and_spaces_are_tolerated() -> None:
    assert one("#priorite haute.   ").value == "haute"
    assert one("#priorite haute.   ").line == "#priorite haute."
    assert one("#clore.").value is None
    assert one("   #type : réclamation").value == "reclamation"


def test_bad_enum_lists_the_values_with_an_example() -> None:
    reason = refused("#priorite moyennement")
    assert "Priorité inconnue « moyennement »" in reason
    assert "basse, normale, haute ou urgente" in reason
    assert "« #priorité haute »" in reason


def test_bad_enum_suggests_the_command_the_value_belongs_to() -> None:
    reason = refused("#type materielle")
    assert "Type inconnu" in reason
    assert "« #nature matérielle »" in reason


def test_bad_enum_suggests_the_closest_value() -> None:
    assert "Vouliez-vous dire « organisationnelle » ?" in refused("#nature organisationelle")


def test_missing_enum_value_is_refused() -> None:
    assert "Il manque la nature" in refused("#nature")


# --- free text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("#formation Excel perfectionnement", "training"),
        ("#training Excel perfectionnement", "training"),
        ("#cause Excel perfectionnement", "cause"),
        ("#cause-profonde Excel perfectionnement", "cause"),
        ("#root-cause Excel perfectionnement", "cause"),
        ("#note Excel perfectionnement", "note"),
        ("#urgence Excel perfectionnement", "urgent"),
        ("#mesure-urgence Excel perfectionnement", "urgent"),
        ("#urgent Excel perfectionnement", "urgent"),
        ("#mediation Excel perfectionnement", "mediation"),
        ("#clore Excel perfectionnement", "close"),
        ("#ignorer Excel perfectionnement", "dismiss"),
    ],
)
def test_free_text_is_kept_as_written(line: str, name: str) -> None:
    command = one(line)
    assert (command.name, command.value) == (name, "Excel perfectionnement")


@pytest.mark.parametrize("line", ["#formation", "#cause", "#note", "#note .", "#urgence"])
def test_required_text_is_refused_when_missing(line: str) -> None:
    assert "Il manque" in refused(line)


def test_a_priority_written_as_an_urgent_measure_is_refused() -> None:
    reason = refused("#urgence haute")
    assert "est une priorité" in reason
    assert "#priorité haute" in reason


def test_free_text_keeps_its_sentence_period_and_accents() -> None:
    assert one("#note Appel de la stagiaire à 10 h, rappeler.").value == "Appel de la stagiaire à 10 h, rappeler."


def test_separators_after_the_word_are_dropped() -> None:
    assert one("#clore — réponse envoyée").value == "réponse envoyée"
    assert one("#clore: réponse envoyée").value == "réponse envoyée"


# --- claimant -----------------------------------------------------------------------------------------


def test_claimant_bare_address_is_lower_cased() -> None:
    command = one("#réclamant Jeanne.Martin@Exemple.FR")
    assert (command.name, command.value, command.claimant_name) == ("claimant", "jeanne.martin@exemple.fr", None)


def test_claimant_with_a_name() -> None:
    command = one('#claimant "Martin, Jeanne" <jeanne@exemple.fr>.')
    assert (command.value, command.claimant_name) == ("jeanne@exemple.fr", "Martin, Jeanne")
    command = one("#reclamant Jeanne Martin <jeanne@exemple.fr>")
    assert (command.value, command.claimant_name) == ("jeanne@exemple.fr", "Jeanne Martin")


@pytest.mark.parametrize(
    "line",
    ["#reclamant jeanne.martin", "#reclamant Jeanne Martin", "#reclamant jeanne@exemple", "#reclamant <jeanne@@x.fr>"],
)
def test_bad_address_is_refused(line: str) -> None:
    reason = refused(line)
    assert reason.startswith("Adresse invalide")
    assert "jeanne.martin@exemple.fr" in reason


# --- extend -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "#prolonger 15 attente du retour du financeur",
        "#prolonger 15 jours attente du retour du financeur",
        "#prolonger 15j : attente du retour du financeur",
        "#prolongation 15 jours, motif : attente du retour du financeur",
        "#extend 15 days attente du retour du financeur",
        "#PROLONGER 15 attente du retour du financeur",
    ],
)
def test_extend_reads_days_then_the_reason(line: str) -> None:
    command = one(line)
    assert (command.name, command.days, command.value) == ("extend", 15, "attente du retour du financeur")


def test_extend_without_reason_is_refused_citing_the_procedure() -> None:
    reason = refused("#prolonger 15")
    assert "motif" in reason
    assert "#prolonger 15 attente du retour du financeur" in reason
    assert "motif" in refused("#prolonger 15 jours.")


@pytest.mark.parametrize("days", ["0", "366", "400"])
def test_extend_days_out_of_range(days: str) -> None:
    reason = refused(f"#prolonger {days} attente")
    assert "hors limites" in reason and "de 1 à 365" in reason


def test_extend_bounds_are_inclusive() -> None:
    assert one("#prolonger 1 attente").days == 1
    assert one("#prolonger 365 attente").days == 365


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#prolonger quinze jours attente", "Nombre de jours attendu"),
        ("#prolonger attente du financeur", "Nombre de jours attendu"),
        ("#prolonger 2 semaines attente", "en jours"),
        ("#prolonger 1 mois attente", "en jours"),
        ("#prolonger 15 jours ouvrés attente", "calendaires"),
    ],
)
def test_extend_needs_a_number_of_calendar_days(line: str, expected: str) -> None:
    assert expected in refused(line)


# --- corrective and preventive actions ----------------------------------------------------------------


@pytest.mark.parametrize("word", ["corrective", "action-corrective", "Corrective"])
def test_corrective_with_owner_and_due_in_any_order(word: str) -> None:
    command = one(f"#{word} Vérifier les réservations ; responsable : Marie ; échéance : 31/01/2027")
    assert (command.name, command.value, command.owner, command.due) == (
        "corrective",
        "Vérifier les réservations",
        "Marie",
        date(2027, 1, 31),
    )
    swapped = one(f"#{word} Vérifier les réservations; echeance: 31/01/2027; pilote: Marie")
    assert (swapped.value, swapped.owner, swapped.due) == ("Vérifier les réservations", "Marie", date(2027, 1, 31))


@pytest.mark.parametrize("word", ["preventive", "préventive", "action-preventive", "PREVENTIVE"])
def test_preventive_words(word: str) -> None:
    command = one(f"#{word} Double confirmation des salles")
    assert (command.name, command.value, command.owner, command.due) == (
        "preventive",
        "Double confirmation des salles",
        None,
        None,
    )


@pytest.mark.parametrize(
    "written",
    [
        "échéance : 31/01/2027",
        "echeance: 31/1/27",
        "échéance : 2027-01-31",
        "échéance : 31.01.2027.",
        "due: 31/01/2027",
        "pour le 31/01/2027",
        "avant le 31 janvier 2027",
        "avant 31/01/2027",
    ],
)
def test_due_date_formats(written: str) -> None:
    assert one(f"#corrective Former l'équipe ; {written}").due == date(2027, 1, 31)


@pytest.mark.parametrize("key", ["responsable", "pilote", "owner", "qui"])
def test_owner_keys(key: str) -> None:
    assert one(f"#preventive Former l'équipe ; {key} : Paul Durand").owner == "Paul Durand"


def test_semicolons_in_prose_stay_in_the_text() -> None:
    command = one("#corrective Prévenir le centre ; avant tout, vérifier ; qui a validé")
    assert command.value == "Prévenir le centre ; avant tout, vérifier ; qui a validé"
    assert (command.owner, command.due) == (None, None)


@pytest.mark.parametrize("written", ["fin janvier", "31/02/2027", "31/01", "demain"])
def test_bad_due_date_is_refused(written: str) -> None:
    reason = refused(f"#corrective Former l'équipe ; échéance : {written}")
    assert "Échéance illisible" in reason and "31/01/2027" in reason


def test_measure_without_text_is_refused() -> None:
    assert "Il manque la description" in refused("#corrective ; responsable : Marie")
    assert "Il manque la description" in refused("#preventive")


# --- action follow-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "status"),
    [
        ("a-faire", "todo"),
        ("à faire", "todo"),
        ("todo", "todo"),
        ("en-cours", "doing"),
        ("en cours", "doing"),
        ("doing", "doing"),
        ("faite", "done"),
        ("fait", "done"),
        ("terminée", "done"),
        ("done", "done"),
        ("abandonnee", "dropped"),
        ("abandonnée", "dropped"),
        ("dropped", "dropped"),
    ],
)
def test_action_statuses(written: str, status: str) -> None:
    command = one(f"#action 2 {written}")
    assert (command.name, command.action_number, command.status, command.value) == ("action", 2, status, None)


def test_action_result_and_alias() -> None:
    command = one("#suivi 1 en cours : salle réservée pour mars")
    assert (command.name, command.action_number, command.status, command.value) == (
        "action",
        1,
        "doing",
        "salle réservée pour mars",
    )


def test_unknown_action_status_is_refused() -> None:
    reason = refused("#action 1 bof")
    assert "État d'action inconnu « bof »" in reason
    assert "à-faire, en-cours, faite ou abandonnée" in reason


@pytest.mark.parametrize("line", ["#action faite", "#action 0 faite"])
def test_action_needs_its_number(line: str) -> None:
    assert "Numéro d'action attendu" in refused(line)


def test_action_needs_a_status() -> None:
    assert "Il manque l'état" in refused("#action 1")


# --- commands without a case --------------------------------------------------------------------------


def test_register_and_help_need_no_case() -> None:
    assert one("#registre", subject="") == Command("register", None, "#registre")
    assert one("#register 2025.", subject="").year == 2025
    assert one("#aide", subject="").name == "help"
    assert one("#help", subject=SUBJECT).case_number is None


def test_register_audit_asks_for_the_audit_file_in_either_order() -> None:
    assert one("#registre audit", subject="") == Command("register", None, "#registre audit", value="audit")
    assert one("#registre 2026 Audit.", subject="").value == "audit"
    assert one("#registre audit 2026", subject="").year == 2026
    assert one("#registre 2026", subject="").value is None  # the spreadsheet, as before
    assert "#registre 2026 audit" in refused("#registre audit complet", subject="")
    assert "Année attendue" in refused("#rapport audit", subject="")  # only the register has an audit file


def test_register_year_must_have_four_digits() -> None:
    assert "Année attendue" in refused("#registre l'an dernier", subject="")
    assert "Année attendue" in refused("#registre 26", subject="")


def test_reopen_takes_no_argument() -> None:
    assert "ne prend pas d'autre argument" in refused("#rouvrir pour le compléter")


# --- which case ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "#clore 2026-0001",
        "#clore [Dossier 2026-0001]",
        "#clore n°2026-0001",
        "#clore N° 2026-0001",
        "#clore dossier 2026-0001",
        "#clore : 2026-0001",
    ],
)
def test_case_on_the_line_beats_the_subject(line: str) -> None:
    command = one(line)
    assert (command.case_number, command.value) == ("2026-0001", None)


def test_case_on_the_line_then_arguments() -> None:
    command = one("#prolonger 2026-000123 15 attente du financeur", subject="")
    assert (command.case_number, command.days, command.value) == ("2026-000123", 15, "attente du financeur")
    command = one("#priorite [Dossier 2026-0002] haute.", subject="")
    assert (command.case_number, command.value) == ("2026-0002", "haute")


def test_subject_with_one_tag_names_the_case() -> None:
    assert one("#clore", subject="TR: RE : [Dossier 2026-0042] Attestation").case_number == "2026-0042"


def test_missing_case_is_refused_with_an_example() -> None:
    reason = refused("#clore", subject="Re: Point du jour")
    assert "Aucun dossier indiqué" in reason
    assert "#clore 2026-0001" in reason


def test_ambiguous_subject_is_refused() -> None:
    reason = refused("#clore", subject="[Dossier 2026-0001] et [Dossier 2026-0002]")
    assert "plusieurs dossiers (2026-0001, 2026-0002)" in reason
    assert one("#clore 2026-0002", subject="[Dossier 2026-0001] et [Dossier 2026-0002]").case_number == "2026-0002"


def test_argument_and_case_problems_are_both_reported() -> None:
    reason = refused("#priorite tres haute", subject="")
    assert "Priorité inconnue" in reason and "Aucun dossier indiqué" in reason


@pytest.mark.parametrize("line", ["#clore 2026-001 merci", "#clore 26-0001", "#note [Dossier 2026-01] appel"])
def test_a_mistyped_case_number_is_not_taken_as_text(line: str) -> None:
    assert "Numéro de dossier mal formé" in refused(line)


def test_one_case_per_line() -> None:
    assert "Un seul dossier par ligne" in refused("#clore 2026-0001 2026-0002")


# --- unknown commands and prose -----------------------------------------------------------------------


def test_unknown_command_suggests_the_closest_word() -> None:
    reason = refused("#fremer")
    assert "Commande inconnue « #fremer »" in reason
    assert "« #fermer »" in reason
    assert "#aide" in reason
    assert "« #prolonger »" in refused("#prolonge 15 attente")


def test_unknown_command_that_is_a_value_suggests_its_command() -> None:
    assert "« #nature matérielle »" in refused("#materielle")
    assert "« #type réclamation »" in refused("#reclamation")


def test_unknown_command_without_a_close_match() -> None:
    reason = refused("#zzzz")
    assert "Commande inconnue « #zzzz »" in reason and "Vouliez-vous" not in reason


def test_prose_hashtags_and_headings_are_not_commands() -> None:
    text = "Merci #team pour le #clore d'hier.\nVoir #registre plus tard\n# Titre\n##clore\n#\n"
    assert parse_commands(text, SUBJECT) == []


# --- whole mails ---------------------------------------------------------------------------------------


def test_several_commands_keep_their_order() -> None:
    text = (
        "Bonjour,\n\n"
        "#nature materielle\r\n"
        "#priorite haute\n"
        "  #corrective Changer de salle ; échéance : 31/01/2027\n"
        "#bidule\n"
        "#clore 2026-0009\n"
        "Bonne journée\n"
    )
    result = parse_commands(text, SUBJECT)
    assert [type(item).__name__ for item in result] == ["Command", "Command", "Command", "Refusal", "Command"]
    assert [item.line for item in result] == [
        "#nature materielle",
        "#priorite haute",
        "#corrective Changer de salle ; échéance : 31/01/2027",
        "#bidule",
        "#clore 2026-0009",
    ]
    assert [item.case_number for item in result if isinstance(item, Command)] == [
        "2026-0007",
        "2026-0007",
        "2026-0007",
        "2026-0009",
    ]


def test_quoted_lines_are_ignored() -> None:
    text = "#note rappelée\n> #clore 2026-0001\n  > #clore\n>> #prolonger 15 x\n"
    assert [item.line for item in commands_in(text, None, SUBJECT)] == ["#note rappelée"]


@pytest.mark.parametrize(
    "header",
    [
        "Le lun. 5 janv. 2026 à 10:12, Alice Martin <alice@exemple.fr> a écrit :",
        "Le lun. 5 janv. 2026 à 10:12, Alice Martin <\nalice@exemple.fr> a écrit :",
        "Le 05/01/2026 à 10:12, Alice Martin a écrit :",
        "Le 5 janv. 2026 à 10:12, Alice\u00a0Martin <alice@exemple.fr> a\u00a0écrit\u00a0:",
        "On Mon, Jan 5, 2026 at 10:12 AM Alice Martin <alice@exemple.fr> wrote:",
        "-----Original Message-----",
        "-------- Message d'origine --------",
        "-------- Message original --------",
        "---------- Forwarded message ---------",
        "De : Alice Martin <alice@exemple.fr>\nEnvoyé : lundi 5 janvier 2026 10:12\nÀ : Bob\nObjet : RE: Salle",
        "From: Alice Martin <alice@exemple.fr>\nSent: Monday, January 5, 2026 10:12 AM\nTo: Bob",
        "________________________________\nDe : Alice Martin <alice@exemple.fr>\nEnvoyé : lundi 5 janvier 2026",
        "Begin forwarded message:",
        "Début du message réexpédié :",
    ],
)
def test_reply_quote_header_ends_the_commands(header: str) -> None:
    text = f"#note appel reçu\n\n{header}\n\n#clore 2026-0001\n#prolonger 15 attente\n"
    assert [item.line for item in commands_in(text, None, SUBJECT)] == ["#note appel reçu"]


def test_prose_that_merely_looks_like_an_intro_does_not_end_the_commands() -> None:
    text = "Le 5 mars, le formateur m'a écrit :\n#note il est malade\nLe formateur a écrit :\n#clore\n"
    assert [item.line for item in commands_in(text, None, SUBJECT)] == ["#note il est malade", "#clore"]


@pytest.mark.parametrize("delimiter", ["-- ", "--"])
def test_signature_ends_the_commands(delimiter: str) -> None:
    text = f"#clore\n{delimiter}\nAlice Martin\n#aide\n"
    assert [item.line for item in parse_commands(text, SUBJECT)] == ["#clore"]


def test_a_mail_of_html_only_is_read_from_its_html_and_its_quote_left_out() -> None:
    html = (
        "<p>#note rappel fait</p><p>Le lun. 5 janv. 2026 à 10:12, Alice Martin &lt;alice@exemple.fr&gt; "
        "a écrit :</p><blockquote><p>#clore 2026-0001</p></blockquote>"
    )
    assert [item.line for item in commands_in("", html, SUBJECT)] == ["#note rappel fait"]


def test_decomposed_accents_and_invisible_characters() -> None:
    command = one("\ufeff#priorite\u0301 haute\u200b")
    assert (command.name, command.value) == ("priority", "haute")


def test_no_commands_in_an_ordinary_mail() -> None:
    assert parse_commands("Bonjour,\nVoici la liste.\nCordialement", SUBJECT) == []
    assert parse_commands("", "") == []


# --- mails put before the director (#ouvrir, #ecarter) ---------------------------------------------


@pytest.mark.parametrize(
    ("line", "mail_id", "kind"),
    [
        ("#ouvrir M-0042", 42, None),
        ("#Ouvrir m-42", 42, None),
        ("#open M0042", 42, None),
        ("#ouvrir M-0042 aléa", 42, "alea"),
        ("#ouvrir M-0042 ALEA", 42, "alea"),
        ("#ouvrir M-0042 difficulte", 42, "difficulte"),
        ("#ouvrir [M-7] réclamation.", 7, "reclamation"),
    ],
)
def test_open_a_mail_put_before_her_by_its_reference_and_an_optional_type(
    line: str, mail_id: int, kind: str | None
) -> None:
    command = one(line)
    assert (command.name, command.mail_id, command.value, command.case_number) == ("open_mail", mail_id, kind, None)


@pytest.mark.parametrize(
    "line", ["#ecarter M-0042", "#écarter m-42", "#dismiss M-0042", "#ignorer M-0042", "#discard M42"]
)
def test_set_aside_a_mail_put_before_her(line: str) -> None:
    command = one(line)
    assert (command.name, command.mail_id) == ("discard_mail", 42)


def test_dismissing_a_case_is_still_dismissing_a_case() -> None:
    command = one("#ignorer 2026-0003 simple demande")
    assert (command.name, command.case_number, command.mail_id) == ("dismiss", "2026-0003", None)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#ouvrir", "Il manque la référence du message"),
        ("#ouvrir 2026-0001", "Référence « 2026-0001 » mal formée"),
        ("#ouvrir M-0042 urgent", "Type inconnu « urgent »"),
        ("#ecarter", "Il manque la référence du message"),
    ],
)
def test_a_bad_mail_reference_or_type_is_refused_with_an_example(line: str, expected: str) -> None:
    reason = refused(line)
    assert expected in reason
    assert "M-0042" in reason


# --- what she did otherwise: acknowledgement, answer, reception, channel, transmitter ------------------


def test_an_acknowledgement_made_otherwise_reads_its_day_and_means_in_either_order() -> None:
    command = one("#accusé 03/12/2026 courrier")
    assert (command.name, command.on, command.means) == ("acknowledged", WrittenDay(3, 12, 2026), "post")
    command = one("#accuse main propre le 2/12")
    assert (command.on, command.means) == (WrittenDay(2, 12), "hand")
    command = one("#acknowledged 2026-12-01 phone")  # an ISO date is a date, not a mistyped case number
    assert (command.case_number, command.on, command.means) == ("2026-0007", WrittenDay(1, 12, 2026), "phone")
    command = one("#accusé")
    assert (command.on, command.means) == (None, None)  # the day of her mail, means unsaid
    # A date left in the note would be lost and the acknowledgement dated today: refused instead.
    assert "Écrivez la date juste après #accusé" in refused("#accusé courrier envoyé le 3/12")


def test_an_answer_made_otherwise_needs_what_was_answered_and_a_readable_date() -> None:
    command = one("#réponse 3/12 téléphone remboursement accordé")
    assert (command.name, command.on, command.means, command.value) == (
        "responded",
        WrittenDay(3, 12),
        "phone",
        "remboursement accordé",
    )
    assert "Il manque le contenu de la réponse" in refused("#réponse 3/12 courrier")
    assert "Date illisible « 45/12 »" in refused("#reponse 45/12 téléphone remboursement")


def test_reception_channel_and_transmitter_of_a_claim_received_otherwise() -> None:
    command = one("#reçu 2/12 14h30")
    assert (command.name, command.on) == ("received", WrittenDay(2, 12, None, at=time(14, 30)))
    assert "Date de réception attendue" in refused("#reçu demain matin")
    assert one("#canal courrier").value == "post"
    assert one("#channel téléphone").value == "oral"
    assert one("#transmis par l'accueil du centre").value == "l'accueil du centre"
    risk = one("#risque une seule salle partenaire", subject="")
    assert (risk.name, risk.case_number, risk.value) == ("risk", None, "une seule salle partenaire")


@pytest.mark.parametrize(
    "subject",
    ["Clôture du dossier 2026-0002", "dossier n° 2026-0002", "TR: Dossier N° 2026-0002 - relance", "numéro 2026-0002"],
)
def test_a_subject_naming_one_case_in_her_own_words_names_it(subject: str) -> None:
    assert one("#clore", subject=subject).case_number == "2026-0002"


@pytest.mark.parametrize("subject", ["dossiers 2026-0002 et dossier 2026-0003", "Facture 2026-0002"])
def test_a_subject_naming_two_cases_or_a_number_without_the_word_names_none(subject: str) -> None:
    assert "Aucun dossier indiqué" in refused("#clore", subject=subject)


def test_the_case_named_on_the_line_in_her_own_words() -> None:
    command = one("#clore du dossier n° 2026-0002 réponse envoyée", subject="Divers")
    assert (command.case_number, command.value) == ("2026-0002", "réponse envoyée")
