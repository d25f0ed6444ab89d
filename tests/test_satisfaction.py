"""Reading the mark and comment out of a claimant's reply to the satisfaction request."""

from __future__ import annotations

import pytest

from inboxbot.reading.satisfaction import Feedback, read_feedback

# The request as the claimant's client quotes it below the answer (templates/satisfaction_request).
REQUEST = (
    "Bonjour Jean Dupont,\n\nVotre réclamation n° 2026-0001 a été traitée.\n\n"
    "Afin d'améliorer notre façon de traiter les réclamations, pourriez-vous nous dire, en répondant simplement "
    "à ce message, si vous êtes satisfait(e) de son traitement ?\n\n"
    "Une note de 1 (pas du tout satisfait) à 5 (très satisfait) suffit ; vous pouvez y ajouter un commentaire.\n\n"
    "Merci par avance,\nCafémétrie"
)


def gmail_reply(answer: str) -> str:
    quoted = "\n".join(f"> {line}" if line else ">" for line in REQUEST.split("\n"))
    return f"{answer}\n\nLe mer. 2 déc. 2026 à 09:00, Cafémétrie <contact@cafemetrie.com> a écrit :\n{quoted}\n"


def outlook_reply(answer: str) -> str:
    return (
        f"{answer}\n\n________________________________\nDe : Cafémétrie <contact@cafemetrie.com>\n"
        f"Envoyé : mercredi 2 décembre 2026 09:00\nÀ : Jean Dupont <jean.dupont@exemple.fr>\n"
        f"Objet : [2026-0001] Votre avis sur le traitement de votre réclamation\n\n{REQUEST}\n"
    )


def mark(text: str) -> int | None:
    return read_feedback(text).mark


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("4", 4),
        ("5 !", 5),
        ("- 3", 3),
        ("4/5", 4),
        ("4 / 5", 4),
        ("(4/5)", 4),
        ("4 sur 5", 4),
        ("quatre sur cinq", 4),
        ("2 points sur 5", 2),
        ("4 out of 5", 4),
        ("note : 4", 4),
        ("Note: 3", 3),
        ("Ma note est de 4.", 4),
        ("note globale : 5", 5),
        ("note quatre", 4),
        ("Je mets quatre.", 4),
        ("je mets un 4 car le délai a été tenu", 4),
        ("Je mettrai un 2 sur 5 car personne ne m'a rappelée.", 2),
        ("Je vous donne la note de 4/5.", 4),
        ("je vous mets 5", 5),
        ("Je donnerais 3, pas plus.", 3),
        ("Je dirais 2 : la réponse a été lente.", 2),
        ("4 étoiles", 4),
        ("une étoile", 1),
        ("5 étoiles sur 5", 5),
        ("★★★★☆", 4),
        ("★ ★ ★ ☆ ☆", 3),
        ("⭐️⭐️⭐️⭐️⭐️", 5),
        ("⭐", 1),
        ("Cinq.", 5),
        ("De 1 à 5 : 4", 4),
        ("Sur une échelle de 1 à 5, je dirais 3", 3),
        ("I'd give it a 4", 4),
        ("I would rate it 2 because nobody called me back.", 2),
        ("Rating: 5 stars", 5),
        ("four out of five", 4),
    ],
)
def test_numeric_marks_are_read(answer: str, expected: int) -> None:
    assert mark(answer) == expected


@pytest.mark.parametrize(
    "answer",
    [
        "0/5",
        "6/5",
        "10/5",
        "4,5/5",
        "3.5 sur 5",
        "note : 0",
        "note : 7",
        "je mets 6",
        "7 étoiles",
        "☆☆☆☆☆",
        "★★★★★★",
        "8",
        "note : 4,5",
    ],
)
def test_marks_off_the_scale_give_none(answer: str) -> None:
    assert mark(answer) is None


@pytest.mark.parametrize(
    "answer",
    [
        "J'ai été rappelé le 3 décembre à 14h30.",
        "La session du 4/5 a été annulée.",
        "Formation suivie depuis le 2/5.",
        "Les cours du 3/5/2026 et du 4/5/2026 ont eu lieu.",
        "Rendez-vous à 10:45.",
        "Vous pouvez me joindre au 06 12 34 56 78.",
        "Dossier 2026-0001.",
        "note : 2026-0001",
        "Je donne 2 exemples : le retard et la salle.",
        "Je vous mets 3 pièces jointes.",
        "J'ai attendu 4 semaines sur les 5 prévues.",
        "Une note de 1 à 5 ? Je ne sais pas.",
        "note : 14h",
        "Je mets 1:30 pour venir en formation.",
        "Je mettrais 4-5",
        "Merci ⭐",
        "Il y avait 4 stagiaires.",
        "",
        "   \n  ",
    ],
)
def test_numbers_that_are_no_marks_are_ignored(answer: str) -> None:
    assert mark(answer) is None


# --- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Très satisfait", 5),
        ("Très satisfaite !", 5),
        ("Je suis tout à fait satisfaite.", 5),
        ("Extrêmement satisfaits de la prise en charge", 5),
        ("Satisfaite à 100 %", 5),
        ("100% satisfait", 5),
        ("Pas satisfait à 100%", 3),
        ("Satisfait", 4),
        ("Je suis satisfaite du traitement.", 4),
        ("Plutôt satisfait", 4),
        ("Moyennement satisfait", 3),
        ("Mitigé.", 3),
        ("Je reste mitigée sur la réponse apportée", 3),
        ("Pas tout à fait satisfaite", 3),
        ("Je ne suis pas entièrement satisfait", 3),
        ("ni satisfait ni insatisfait", 3),
        ("Peu satisfait", 2),
        ("Insatisfaite", 2),
        ("Pas satisfait", 2),
        ("Je ne suis pas satisfaite de la réponse", 2),
        ("Je n'ai pas été satisfait", 2),
        ("Je ne suis plus satisfait", 2),
        ("Non satisfait", 2),
        ("pas très satisfaite", 2),
        ("Pas du tout satisfait", 1),
        ("Je ne suis pas du tout satisfaite.", 1),
        ("Pas satisfait du tout", 1),
        ("Très insatisfait", 1),
        ("Très déçue", 1),
        ("Very satisfied", 5),
        ("I am satisfied", 4),
        ("Moderately satisfied", 3),
        ("Not satisfied", 2),
        ("I wasn't very satisfied", 2),
        ("Dissatisfied", 2),
        ("Unsatisfied with the delay", 2),
        ("Not at all satisfied", 1),
        ("Not satisfied at all", 1),
        ("Very dissatisfied", 1),
        ("Very disappointed", 1),
        ("neither satisfied nor dissatisfied", 3),
    ],
)
def test_expressions_are_read_with_their_negation_and_degree(answer: str, expected: int) -> None:
    assert mark(answer) == expected


@pytest.mark.parametrize(
    "answer",
    [
        "Je suis plus satisfait qu'avant",  # comparative "plus", not "ne … plus"
        "Sur ce point je suis satisfait",
        "Non seulement je suis satisfait",
    ],
)
def test_words_that_only_look_like_negations_are_not(answer: str) -> None:
    assert mark(answer) == 4


@pytest.mark.parametrize(
    "answer",
    [
        "Merci pour votre retour.",
        "Déçu par la salle.",  # "déçu" alone is a feeling, not one of the marks offered
        "Pas insatisfait.",
        "La réponse est satisfaisante.",
        "Bonjour, rien à ajouter.",
    ],
)
def test_words_that_are_no_marks_give_none(answer: str) -> None:
    assert mark(answer) is None


# --- conflicts and precedence -----------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "4/5 pour la formation, 2/5 pour l'accueil",
        "4\n3",
        "je mets 4 … ou plutôt 3/5",
        "Satisfaite de la formation mais pas satisfaite du suivi.",
        "Très satisfait du formateur, peu satisfait des locaux.",
    ],
)
def test_two_different_marks_give_none_and_keep_the_comment(answer: str) -> None:
    assert read_feedback(answer) == Feedback(None, answer)


def test_the_same_mark_twice_is_one_mark() -> None:
    assert mark("4/5\nJe mets 4 étoiles.") == 4


def test_a_number_outranks_words() -> None:
    assert mark("Satisfait, je mets 5/5") == 5
    assert mark("Satisfaite.\nJe mets 5/5.") == 5
    assert mark("Pas satisfait du délai, mais 4/5 pour le reste") == 4


def test_an_invalid_number_is_not_rescued_by_words() -> None:
    assert mark("0/5, pas du tout satisfait") is None


# --- the comment ------------------------------------------------------------------------------


def test_mark_on_its_own_line_is_left_out_of_the_comment() -> None:
    answer = "Bonjour,\n\n5/5\n\nTrès bonne prise en charge, merci.\n\nCordialement,\nJean Dupont"
    assert read_feedback(answer) == Feedback(
        5, "Bonjour,\n\nTrès bonne prise en charge, merci.\n\nCordialement,\nJean Dupont"
    )


@pytest.mark.parametrize(
    "line", ["Note : 4/5", "Ma note : 4", "4", "★★★★☆", "Formation : 4 sur 5", "Je suis satisfaite.", "Rating: 4"]
)
def test_labelled_mark_lines_are_left_out(line: str) -> None:
    assert read_feedback(f"{line}\nLe formateur était à l'écoute.") == Feedback(4, "Le formateur était à l'écoute.")


def test_mark_inside_a_sentence_keeps_the_whole_text() -> None:
    answer = "Je mets 4 car la réponse est arrivée avec une semaine de retard."
    assert read_feedback(answer) == Feedback(4, answer)


def test_expression_with_more_words_keeps_the_whole_text() -> None:
    answer = "Très satisfaite de l'accueil téléphonique."
    assert read_feedback(answer) == Feedback(5, answer)


def test_mark_alone_gives_an_empty_comment() -> None:
    assert read_feedback("  4/5  \n") == Feedback(4, "")


def test_no_mark_keeps_every_word() -> None:
    answer = "Je n'ai toujours pas reçu mon attestation."
    assert read_feedback(answer) == Feedback(None, answer)


def test_comment_is_trimmed() -> None:
    assert read_feedback("\n\n  Merci pour tout.  \n\n") == Feedback(None, "Merci pour tout.")


# --- quoted history ---------------------------------------------------------------------------


@pytest.mark.parametrize("reply", [gmail_reply, outlook_reply])
def test_the_quoted_request_is_not_read(reply: object) -> None:
    assert callable(reply)
    assert read_feedback(reply("4\nMerci pour votre écoute.")) == Feedback(4, "Merci pour votre écoute.")
    # The request lists "1 (pas du tout satisfait)" and "5 (très satisfait)": none of that counts.
    assert read_feedback(reply("Merci.")) == Feedback(None, "Merci.")


def test_quoted_lines_are_ignored() -> None:
    assert read_feedback("> 1/5\n> très déçu\n3/5") == Feedback(3, "")


def test_reply_that_is_only_the_quoted_request_gives_nothing() -> None:
    assert read_feedback(gmail_reply("").lstrip()) == Feedback(None, "")


def test_signature_numbers_are_not_read() -> None:
    answer = "Satisfaite, merci.\n\n-- \nJean Dupont\n06 12 34 56 78\n5 rue de la Paix, 75002 Paris"
    assert read_feedback(answer) == Feedback(4, "Satisfaite, merci.")


def test_case_number_in_the_answer_is_not_a_mark() -> None:
    answer = "Pour le dossier 2026-0001 : 5/5."
    assert read_feedback(answer) == Feedback(5, answer)


def test_english_reply() -> None:
    answer = "Hello,\n\n4 out of 5\n\nThe trainer was great but the certificate came late.\n\nBest regards,\nJohn"
    assert read_feedback(answer) == Feedback(
        4, "Hello,\n\nThe trainer was great but the certificate came late.\n\nBest regards,\nJohn"
    )
