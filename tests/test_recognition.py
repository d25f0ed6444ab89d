"""Tests for inboxbot.reading.recognition: the figures on the evaluation set, the language handling
(negation, politeness, accents, tags, questions), spam, the vocabulary file's errors and the cost."""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inboxbot.reading.recognition import (
    Assessment,
    RecognitionError,
    Recognizer,
    load_recognition,
    parse_recognition,
)
from tests.recognition_eval import (
    BLIND,
    BLIND2,
    BLIND3,
    BLIND4,
    BLIND5,
    BLIND6,
    BLIND7,
    BLIND8,
    BLIND9,
    BLIND10,
    BLIND11,
    BLIND12,
    BLIND13,
    BLIND14,
    RULES,
    load_mails,
    measure,
)

VOCABULARY = RULES / "recognition" / "vocabulary.toml"


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    """The shipped vocabulary as shipped: only a formal claim, a tag or a known reporter's incident opens."""
    return load_recognition([RULES])


@pytest.fixture(scope="module")
def vocabulary_alone() -> Recognizer:
    """The shipped vocabulary without its learned model: what the families of phrasing are tested on, each
    a mail the vocabulary alone must see or leave (the model's share is measured on whole sets)."""
    with VOCABULARY.open("rb") as stream:
        return parse_recognition(tomllib.load(stream), VOCABULARY)


@pytest.fixture(scope="module")
def on_words() -> Recognizer:
    """The shipped vocabulary with `imap.open_on_words = true`: a clear grievance in the sender's own words
    opens too. The rules that keep such an opening safe are shown on it."""
    return load_recognition([RULES], open_on_words=True)


def assess(
    recognizer: Recognizer, subject: str, text: str, *, reporter: bool = False, spam: bool = False
) -> Assessment:
    return recognizer.assess(subject, text, sender_is_reporter=reporter, spam=spam)


# --- the evaluation set ---------------------------------------------------------------------------


def test_evaluation_set_is_as_described() -> None:
    mails = load_mails(held_out=False)
    assert len(mails) >= 170
    assert len({mail.id for mail in load_mails()}) == len(load_mails()), "ids are unique"
    assert all(mail.label in ("claim", "incident", "ordinary") and mail.reason for mail in load_mails())
    ordinary = [mail for mail in mails if mail.label == "ordinary"]
    assert len(ordinary) >= 70
    without_keyword = [
        mail
        for mail in mails
        if mail.label != "ordinary"
        and not any(word in mail.subject.lower() for word in ("réclamation", "reclamation", "plainte"))
    ]
    assert len(without_keyword) >= 65
    assert len(load_mails(held_out=True)) >= 240


@pytest.mark.parametrize("part", ["tuning", "held-out", "tuning and held-out together"])
def test_figures_on_the_evaluation_set(recognizer: Recognizer, part: str) -> None:
    """The issue's targets: recall >= 95 %, no ordinary mail opened, <= 20 % put before her.

    Checked on the tuning set and on the held-out files (`heldout*.toml`, each written after a round
    of vocabulary work; only their first measure, recorded in the commit that added each, was taken
    before they were looked at). Not on the blind set: see the tests below.
    """
    mails = {
        "tuning": load_mails(held_out=False),
        "held-out": load_mails(held_out=True),
        "tuning and held-out together": load_mails(held_out=False) + load_mails(held_out=True),
    }[part]
    figures = measure(recognizer, mails)
    assert figures.recall >= 0.95, f"missed: {figures.missed}"
    assert figures.ordinary_open == 0, f"ordinary opened: {figures.false_alarms}"
    assert figures.candidate_rate <= 0.20, f"ordinary flagged: {figures.false_alarms}"


# The blind sets were written by people who never saw the detector nor the other sets. `blind.toml`
# (100 mails) was measured once and not tuned on: recall 49/50, 8/50 ordinary put before her, and one
# ordinary mail opened, a trainer's good news about a learner's earlier malaise. That one is now put
# before her, not opened, for a general reason: good news about an earlier event (« bonne nouvelle »,
# « va très bien ») never opens by itself. `blind2.toml` (120 mails) was measured once before tuning
# (recall 46/52, 13/68 put before her, 0 opened; BENCHMARKS §8) and then tuned on, family by family:
# it is no longer blind, but its targets must keep holding. `blind3.toml` (120 mails) was measured once
# after that tuning (recall 46/53, 16/67 put before her, 2 opened: a grievance against another
# organisation, and the bank closing the organisation's own card dispute) and then tuned on in turn.
# `blind4.toml` (120 mails) was measured once after that (recall 50/53, 21/67 put before her, 3 opened);
# since the rule « addressed to the organisation » and the English politeness it opens none, but its
# recall and share put before her are still short of the targets: only « none opened » is checked.
# `blind5.toml` (120 mails) was measured once after that rule (recall 47/53, 15/67 put before her, 5
# opened: three trainers' incidents at another client, two funders' remedy clauses); since the rules
# « about the organisation's own session » and « a remedy clause is no grievance » it opens none.
# Both were then tuned on by families of phrasing (BENCHMARKS §8, « after the tuning on blind sets 4
# and 5 »), each family checked on fresh sentences below: their targets now hold and are checked.
# `blind6.toml` and `blind7.toml` (120 mails each, two more writers) were measured as shipped, where only
# a formal claim, a tag or a known reporter's incident opens (recall 45/53 and 49/53, 19/67 and 12/67 put
# before her, none opened), and with `open_on_words` (one ordinary mail opened in each: a lawyer for a
# former employee, a sales pitch for complaint software); then tuned on by families (BENCHMARKS §8,
# « after the tuning on blind sets 6 and 7 »), checked on fresh sentences below. `blind8.toml` (120 mails)
# was measured as shipped before and after that tuning (recall 47/53 then 48/53, 12/67 put before her,
# none opened as shipped, one on words: a mediation body reminding its member of its obligations), then
# tuned on by families of quiet phrasing (BENCHMARKS §8, « after the tuning on blind set 8 »).
# `blind9.toml` (120 mails) was measured the same way (recall 50/54 both times, 18/66 then 17/66 put before
# her, none opened in either setting), then tuned on by families (« after the tuning on blind set 9 »):
# what is due asked without a problem word, and ordinary mail about the same subjects (a grievance against
# an hotel or an employer, a question before booking, a supplier's or an administration's notice).
# `blind10.toml` (120 mails) was measured once after every tuning of that day (recall 44/52, 14/68 put before
# her, one opened: the organisation's own lawyer, since fixed), then tuned on by families (« after the tuning
# on blind set 10 »): what is due asked politely (a discount not applied, an invoice against its quote, papers
# that never arrived), and ordinary mail about the same subjects (a venue's own terms, a platform's deadline,
# instalments, a request that accepts a refusal, the previous provider's faults).
# `blind11.toml` and `blind12.toml` (120 mails each) were measured once with the learned model, neither it nor
# the vocabulary having seen them (recall 51/51 and 51/53, 9/69 and 5/67 put before her; 3 opened as shipped
# in blind11, then fixed: a claim the writer makes to someone else, « zéro brûlure »), then the model was
# fitted on them too and the vocabulary tuned (an employee's own dispute, a regulator's general reminder).
# `blind13.toml` and `blind14.toml` (120 mails each) were measured once the same way, with the model fitted on
# sets up to 12 (recall 53/54 and 52/52, 11/66 and 8/68 put before her, none opened as shipped; with
# `open_on_words`, 3 in blind14: a platform's and a funder's rule blamed in passing, since fixed, and a
# prospect's unanswered form, kept above), then fitted on.


@pytest.mark.parametrize(
    "name", [BLIND, BLIND2, BLIND3, BLIND4, BLIND5, BLIND6, BLIND7, BLIND8, BLIND9, BLIND10, BLIND11, BLIND12]
)
def test_blind_sets_recall_and_candidates(recognizer: Recognizer, name: str) -> None:
    figures = measure(recognizer, load_mails(files=(name,)))
    totals = {
        BLIND: 100,
        BLIND2: 120,
        BLIND3: 120,
        BLIND4: 120,
        BLIND5: 120,
        BLIND6: 120,
        BLIND7: 120,
        BLIND8: 120,
        BLIND9: 120,
        BLIND10: 120,
        BLIND11: 120,
        BLIND12: 120,
        BLIND13: 120,
        BLIND14: 120,
    }
    assert figures.total == totals[name]
    assert figures.recall >= 0.95, f"missed: {figures.missed}"
    assert figures.candidate_rate <= 0.20, f"ordinary flagged: {figures.false_alarms}"


@pytest.mark.parametrize("opening", ["shipped", "on words"])
@pytest.mark.parametrize(
    "name", [BLIND, BLIND2, BLIND3, BLIND4, BLIND5, BLIND6, BLIND7, BLIND8, BLIND9, BLIND10, BLIND11, BLIND12]
)
def test_blind_sets_open_no_ordinary_mail(
    recognizer: Recognizer, on_words: Recognizer, name: str, opening: str
) -> None:
    """As shipped, and with the wider opening an organisation may choose, on every set tuned on."""
    figures = measure(recognizer if opening == "shipped" else on_words, load_mails(files=(name,)))
    opened = [alarm for alarm in figures.false_alarms if alarm.endswith(":open")]
    # A prospect whose contact form was never answered (« personne ne m'a rappelé … pouvez-vous me
    # recontacter ? »): its writer labelled it ordinary yet wanted it before the director; shipped, it is.
    known = ["blind14-049:open"] if (name, opening) == (BLIND14, "on words") else []
    assert opened == known, f"ordinary opened: {figures.false_alarms}"


def test_as_shipped_a_clear_grievance_in_own_words_is_put_before_her(recognizer: Recognizer) -> None:
    """Only a formal claim, a tag or a known reporter's incident opens by itself; a grievance that would
    open on words goes before her, saying so, and `imap.open_on_words` opens it."""
    text = "Votre formateur n'est jamais venu le deuxième jour. Je suis furieux et j'exige d'être remboursé."
    shipped = assess(recognizer, "Stage du 12", text)
    assert shipped.outcome == "candidate"
    assert shipped.kind == "reclamation"
    assert any("grief net, à qualifier" in note for note in shipped.notes)
    assert assess(load_recognition([RULES], open_on_words=True), "Stage du 12", text).outcome == "open"
    formal = "Je souhaite formuler une réclamation : le formateur n'est jamais venu le deuxième jour."
    assert assess(recognizer, "Stage du 12", formal).outcome == "open"
    report = "Une stagiaire s'est brûlée à la main avec la buse vapeur, j'ai appelé les pompiers et arrêté la séance."
    assert assess(recognizer, "Session de ce matin", report, reporter=True).outcome == "open"


def test_the_vocabulary_switch_and_the_configuration_agree(tmp_path: Path) -> None:
    """`seuils.ouvrir_sur_les_mots` in a user's copy opens on words; the configuration's switch wins."""
    document = shipped_document()
    document["seuils"]["ouvrir_sur_les_mots"] = True
    text = "Vous ne m'avez jamais envoyé l'attestation promise. Je suis très déçue et je demande qu'elle me parvienne."
    assert assess(parse_recognition(document, VOCABULARY), "Attestation", text).outcome == "open"
    assert assess(parse_recognition(document, VOCABULARY, None, False), "Attestation", text).outcome == "candidate"


def test_spam_is_never_opened_whatever_it_says(recognizer: Recognizer) -> None:
    for mail in load_mails():
        result = recognizer.assess(mail.subject, mail.text, sender_is_reporter=mail.reporter, spam=True)
        assert result.outcome != "open", mail.id


# --- language -------------------------------------------------------------------------------------


def test_formal_complaint_in_the_text_under_a_neutral_subject_opens(recognizer: Recognizer) -> None:
    result = assess(
        recognizer, "Session de mars", "Je souhaite formuler une réclamation au sujet de la session de mars."
    )
    assert result.outcome == "open"
    assert result.kind == "reclamation"
    assert "formuler une réclamation" in result.reasons


def test_negation_cancels_problem_words(recognizer: Recognizer) -> None:
    plain = assess(recognizer, "Session", "Il y a eu un incident et un gros problème pendant la session.")
    negated = assess(recognizer, "Session", "Il n'y a eu aucun incident et pas de problème pendant la session.")
    assert plain.score > negated.score
    assert negated.outcome == "leave"
    assert (
        assess(recognizer, "Bilan", "Je ne suis pas déçue, au contraire.").score
        < assess(recognizer, "Bilan", "Je suis déçue.").score
    )


def test_negation_does_not_cross_a_sentence(recognizer: Recognizer) -> None:
    across = assess(recognizer, "Bilan", "Rien à redire pour le repas. Pas. Je suis déçue.")
    assert "déçue" in across.reasons


def test_negated_satisfaction_is_dissatisfaction(recognizer: Recognizer) -> None:
    result = assess(recognizer, "Formation", "Je ne suis pas du tout satisfaite de cette formation.")
    assert result.outcome in ("candidate", "open")
    assert assess(recognizer, "Formation", "Je suis très satisfaite de cette formation.").outcome == "leave"


def test_thanks_and_resolved_problem_are_not_claims(recognizer: Recognizer) -> None:
    resolved = assess(
        recognizer,
        "Re: problème vidéoprojecteur",
        "Bonjour, le vidéoprojecteur fonctionne à nouveau, le problème est résolu. Merci beaucoup pour votre réactivité !",
        reporter=True,
    )
    assert resolved.outcome == "leave"
    thanks = assess(recognizer, "Merci", "Un grand merci, la formation était excellente, je recommande !")
    assert thanks.outcome == "leave"


def test_ordinary_requests_about_documents_and_refunds_are_left(recognizer: Recognizer) -> None:
    for subject, text in [
        ("Attestation", "Bonjour, comment obtenir mon attestation de fin de formation ? Merci d'avance."),
        ("Facture", "Veuillez trouver ci-joint la facture de la session de mai. Cordialement."),
        ("Remboursement", "Les frais de transport peuvent-ils être remboursés ? Quels justificatifs fournir ?"),
        ("Devis", "Pourriez-vous nous faire parvenir un devis pour 8 personnes ?"),
    ]:
        assert assess(recognizer, subject, text).outcome == "leave", subject


def test_a_demand_counts_more_than_the_same_words_in_a_question(recognizer: Recognizer) -> None:
    question = assess(recognizer, "Frais", "Est-ce que je peux être remboursé ?")
    demand = assess(recognizer, "Frais", "Je veux être remboursé.")
    assert demand.score > question.score


@pytest.mark.parametrize("spelling", ["déçue", "decue", "DÉÇUE", "DECUE", "déçues", "Deçu", "déçus"])
def test_accents_case_and_agreement_do_not_matter(recognizer: Recognizer, spelling: str) -> None:
    result = assess(recognizer, "Formation", f"Je suis {spelling} par la formation.")
    assert result.score == assess(recognizer, "Formation", "Je suis déçu par la formation.").score
    assert result.reasons == (spelling,)


def test_decomposed_accents_read_like_composed_ones(recognizer: Recognizer) -> None:
    decomposed = "Je suis tre\u0300s de\u0301c\u0327ue."
    assert assess(recognizer, "x", decomposed).score == assess(recognizer, "x", "Je suis très déçue.").score


def test_conjugations_are_matched_by_prefixes(recognizer: Recognizer) -> None:
    for text in ("Les ordinateurs ne fonctionnent pas.", "Le micro ne fonctionnait plus.", "La borne ne marchait pas."):
        assert assess(recognizer, "Salle", text, reporter=True).outcome != "leave", text


@pytest.mark.parametrize(
    ("tag", "kind"),
    [
        ("[ALEA]", "alea"),
        ("[ALEAS]", "alea"),
        ("[ALÉAS]", "alea"),
        ("[Aléa]", "alea"),
        ("[ alea ]", "alea"),
        ("[INCIDENT]", "alea"),
        ("[incident]", "alea"),
        ("[DIFFICULTE]", "difficulte"),
        ("[DIFFICULTES]", "difficulte"),
        ("[Difficultés]", "difficulte"),
    ],
)
def test_tag_variants_open_an_incident(recognizer: Recognizer, tag: str, kind: str) -> None:
    result = assess(recognizer, f"Re: {tag} salle B", "RAS de plus.")
    assert (result.outcome, result.kind, result.tag) == ("open", kind, tag)
    assert result.reasons[0] == tag
    assert tag.strip("[] ") not in result.reasons  # the tag's word is not listed twice
    assert assess(recognizer, f"{tag} salle B", "RAS", spam=True).outcome == "candidate"


def test_unknown_tags_and_broken_brackets_are_not_tags(recognizer: Recognizer) -> None:
    for subject in ("[Cafémétrie] Newsletter", "[ALEA", "ALEA]", "[AL[EA]", "[]"):
        assert assess(recognizer, subject, "Bonjour").tag is None, subject
    assert assess(recognizer, "[[ALEA]] salle", "Bonjour").tag == "[ALEA]"  # as the rules' subject_tag reads it


def test_spam_is_at_most_a_candidate_and_says_so(recognizer: Recognizer) -> None:
    text = "Je vous mets en demeure de me rembourser sous huitaine, faute de quoi je saisirai le tribunal."
    assert assess(recognizer, "Facture", text).outcome == "open"
    flagged = assess(recognizer, "Facture", text, spam=True)
    assert flagged.outcome == "candidate"
    assert any("indésirable" in note for note in flagged.notes)


def test_known_reporters_make_incident_words_count_more(recognizer: Recognizer) -> None:
    text = "Petit souci ce matin : le vidéoprojecteur est tombé en panne, on a fait sans."
    stranger = assess(recognizer, "Session", text)
    trainer = assess(recognizer, "Session", text, reporter=True)
    assert trainer.score > stranger.score
    assert (trainer.outcome, trainer.kind) == ("open", "alea")
    assert stranger.outcome == "candidate"


def test_a_learner_reporting_failures_is_guessed_a_claim(recognizer: Recognizer) -> None:
    text = "Je suis très déçu : le formateur était absent deux jours et on n'a rien appris. Je veux être remboursé."
    assert assess(recognizer, "Formation", text).kind == "reclamation"


def test_reasons_excerpt_and_summary_speak_french(on_words: Recognizer) -> None:
    text = "Bonjour,\n\nJe n'ai toujours pas reçu mon attestation malgré mes relances.\nC'est inadmissible.\n\nMerci"
    result = assess(on_words, "Attestation", text)
    assert result.outcome == "open"
    assert {"toujours pas", "malgré mes relances", "inadmissible"} <= set(result.reasons)
    assert "toujours pas reçu mon attestation" in result.excerpt
    assert "\n" not in result.excerpt
    summary = result.summary()
    assert summary.startswith("mots relevés : « ")
    assert "extrait : « " in summary


def test_assessing_is_repeatable(recognizer: Recognizer) -> None:
    """The word cache must not make one mail's result depend on the mails read before it."""
    mail = load_mails()[0]
    first = mail.assess(recognizer)
    for other in load_mails()[:30]:
        other.assess(recognizer)
    assert mail.assess(recognizer) == first


def test_empty_and_odd_input(recognizer: Recognizer) -> None:
    assert assess(recognizer, "", "").outcome == "leave"
    assert assess(recognizer, "?!;.", "…\u00a0\u200b«»").outcome == "leave"
    assert assess(recognizer, "x", "ｆｕｌｌ ｗｉｄｔｈ 😀 ελληνικά").outcome == "leave"


@pytest.mark.parametrize(
    ("written", "vocabulary_form"),
    [
        ("annulée", "annulé"),
        ("annulait", "annulé"),
        ("annulent", "annulé"),
        ("annuler", "annulé"),
        ("exigeait", "exige"),
        ("exigez", "exige"),
        ("lâchée", "lâché"),
        ("attendais", "attendait"),
        ("mauvaises", "mauvais"),
    ],
)
def test_verb_and_agreement_forms_share_a_stem(written: str, vocabulary_form: str) -> None:
    from inboxbot.reading.recognition import _fold_text, _stem

    assert _stem(_fold_text(written)) == _stem(_fold_text(vocabulary_form))


def test_plural_nouns_are_not_cut_like_verbs() -> None:
    from inboxbot.reading.recognition import _fold_text, _stem

    assert _stem(_fold_text("réclamations")) == _stem(_fold_text("réclamation"))
    assert _stem(_fold_text("questions")) == _stem(_fold_text("question"))
    assert _stem(_fold_text("frais")) != _stem(_fold_text("fr"))


def test_opening_needs_evidence_not_only_a_score(on_words: Recognizer) -> None:
    """Many incident words from a stranger are put before her; a demand with dissatisfaction opens."""
    words = "Panne de courant, fuite d'eau, alarme incendie, évacuation, pompiers sur place."
    many = assess(on_words, "Information", words)
    assert many.score >= on_words.settings.open_threshold
    assert many.outcome == "candidate"
    demand = assess(on_words, "Formation", "Je suis très déçue, c'est inadmissible. Je vous demande de me rembourser.")
    assert demand.outcome == "open"
    assert assess(on_words, "Information", words, reporter=True).outcome == "open"


def test_a_grievance_passed_on_by_a_known_reporter_is_a_claim_never_opened_alone(on_words: Recognizer) -> None:
    """A venue or a trainer relaying a learner's grievance: a claim (its author is the learner), put
    before her, since acknowledging the venue as the claimant would be wrong. A client company relaying
    what its staff lived through claims on its own account and may be opened."""
    relayed = (
        "Bonjour, un de vos stagiaires est venu me voir en partant : il était très remonté, on lui avait promis "
        "une clé USB avec les exercices et il n'a rien reçu. Il ne savait pas à qui s'adresser."
    )
    venue = assess(on_words, "Un de vos stagiaires", relayed, reporter=True)
    assert (venue.outcome, venue.kind) == ("candidate", "reclamation")
    employer = (
        "Nos salariés m'ont rapporté que le formateur était absent deux après-midi. Je suis très déçue "
        "et je vous demande un avoir sur la facture."
    )
    assert assess(on_words, "Formation de nos salariés", employer).outcome == "open"


def test_thanks_with_a_but_is_put_before_her(recognizer: Recognizer) -> None:
    but = (
        "Merci pour cette formation, le formateur était très sympathique. Seul regret : le module sur les "
        "tableaux croisés a été survolé en une demi-heure alors qu'il devait occuper une matinée, je suis "
        "restée sur ma faim. Merci encore !"
    )
    assert assess(recognizer, "Merci", but).outcome == "candidate"
    thanks = "Merci pour cette formation, le formateur était très sympathique. Merci encore !"
    assert assess(recognizer, "Merci", thanks).outcome == "leave"


@pytest.mark.parametrize(
    "text",
    [
        "Merci pour le certificat. Il indique 7 heures alors que j'ai suivi les deux journées : est-ce normal ?",
        "Notre apprentie nous indique ne pas avoir reçu la convocation à l'examen qui devait lui être envoyée.",
        "Quick question: we were told the course included the exam fee, is this right? We have been invoiced for it.",
    ],
)
def test_polite_questions_that_carry_a_grievance_are_seen(recognizer: Recognizer, text: str) -> None:
    assert assess(recognizer, "Question", text).outcome != "leave"


def test_good_news_about_an_earlier_event_never_opens(recognizer: Recognizer) -> None:
    earlier = "Bonne nouvelle : le stagiaire qui avait fait un malaise jeudi va très bien, il revient lundi."
    assert assess(recognizer, "Nouvelles", earlier, reporter=True).outcome != "open"
    fresh = "Un stagiaire a fait un malaise ce matin, les pompiers sont venus et l'ont emmené aux urgences."
    assert assess(recognizer, "Ce matin", fresh, reporter=True).outcome == "open"


@pytest.mark.parametrize(
    ("subject", "text", "reporter"),
    [
        ("Dispo", "Du coup je suis libre jeudi si tu as besoin de moi.", True),
        ("Facture", "Une erreur s'est glissée dans notre facture : elle annule et remplace la précédente.", False),
        (
            "Réponse automatique : Planning",
            "Je suis absente du bureau jusqu'au 5 janvier. En cas d'urgence, "
            "merci de contacter l'accueil pour toute réclamation ou remboursement.",
            False,
        ),
        (
            "Travaux",
            "Une coupure d'électricité est programmée le 3 mars de 9 h à 12 h pour travaux sur le réseau. "
            "Nous vous prions de nous excuser pour la gêne occasionnée.",
            False,
        ),
        (
            "Votre commande",
            "Votre commande est retardée : rupture de stock. Nouvelle date de livraison le 12. "
            "Nous vous prions de nous excuser pour ce désagrément.",
            False,
        ),
        ("Congés", "Je serai en congés du 2 au 16 août, injoignable, pas de réseau là-bas.", True),
    ],
)
def test_notices_idioms_and_absences_are_left(recognizer: Recognizer, subject: str, text: str, reporter: bool) -> None:
    assert assess(recognizer, subject, text, reporter=reporter).outcome == "leave", text


def test_phishing_borrowing_claim_words_is_left(recognizer: Recognizer) -> None:
    text = (
        "Cher client, nous avons remarqué une activité inhabituelle : un litige a été ouvert et l'accès à votre "
        "compte est limité. Confirmez vos informations en cliquant sur le lien ci-dessous."
    )
    assert assess(recognizer, "Litige en cours", text, spam=True).outcome == "leave"


def test_a_reply_subject_shows_no_evidence(on_words: Recognizer) -> None:
    text = "Suite à votre appel, un geste commercial a été proposé au client."
    assert assess(on_words, "Plainte de M. X", text).outcome == "open"
    assert assess(on_words, "Re: Plainte de M. X", text).outcome != "open"


def test_newsletters_about_problems_are_damped_and_never_opened(recognizer: Recognizer) -> None:
    text = (
        "Bonjour à toutes et à tous,\n\nAu sommaire ce mois-ci : pannes de matériel, stagiaires en difficulté, "
        "conflits dans le groupe, réclamations de clients mécontents.\n"
        "- comment réagir\n- comment tracer\n- que dire à l'auditeur\n\n"
        "Lire la suite : https://exemple.fr/a https://exemple.fr/b\nSe désinscrire"
    )
    plain = assess(
        recognizer, "Le mot du mois", text.split("Lire la suite")[0].replace("Bonjour à toutes et à tous", "")
    )
    newsletter = assess(recognizer, "Le mot du mois", text, reporter=True)
    assert newsletter.outcome != "open"
    assert any("lettre d'information" in note for note in newsletter.notes)
    assert assess(recognizer, "Le mot du mois", text).score < plain.score


def test_training_subjects_are_not_problems(recognizer: Recognizer) -> None:
    request = "Nous souhaitons former nos managers à la gestion des conflits. Quel serait votre tarif ?"
    assert assess(recognizer, "Demande", request).outcome == "leave"
    assert assess(recognizer, "Groupe", "Un conflit a éclaté dans le groupe.").score > 0


def test_a_trainers_materials_and_planned_events_never_open(recognizer: Recognizer) -> None:
    """A known reporter's mail opens on incident words, unless it talks about content or a planned event."""
    materials = "Voici les supports de la session : conflits, insultes, altercation, un stagiaire qui crie."
    assert assess(recognizer, "Supports", materials, reporter=True).outcome == "candidate"
    drill = "Un exercice d'évacuation aura lieu jeudi : l'alarme incendie sonnera, évacuation du bâtiment."
    assert assess(recognizer, "Information", drill, reporter=True).outcome != "open"
    real = "L'alarme incendie a sonné, évacuation du bâtiment, les pompiers sont venus."
    assert assess(recognizer, "Ce matin", real, reporter=True).outcome == "open"


def test_a_request_for_training_damps_its_subject(recognizer: Recognizer) -> None:
    request = "Nous souhaitons organiser une formation aux gestes face aux malaises, chutes et accidents."
    report = "Malaise, chute et accident ce matin pendant la formation."
    assert assess(recognizer, "Devis", request).score < assess(recognizer, "Devis", report).score


def test_negation_stops_at_a_comma(recognizer: Recognizer) -> None:
    assert "c'est grave" in assess(recognizer, "x", "Sans mon accord, c'est grave.").reasons


def test_suppliers_reminders_are_never_opened(recognizer: Recognizer) -> None:
    text = (
        "Malgré nos relances, notre facture reste impayée. Nous vous demandons de régler sous huitaine, "
        "faute de quoi nous transmettrons au contentieux."
    )
    assert assess(recognizer, "Relance", text).outcome != "open"


# --- the families of the third blind set (fresh sentences, none taken from the set) ------------------


def test_a_grievance_against_another_organisation_is_never_opened(on_words: Recognizer) -> None:
    """A former learner asking how a friend can complain about another organisation: a grievance, but
    not against us; the same grievance about our course, with a demand, still opens. A question about
    how to complain is an inquiry: put before her, never acknowledged as the complaint itself."""
    elsewhere = (
        "Je vous écris pour un ami : il a suivi une formation de cariste dans un autre organisme, le formateur "
        "n'est jamais venu et on refuse de le rembourser. Savez-vous comment il peut déposer une réclamation ?"
    )
    assert assess(on_words, "Une question", elsewhere).outcome != "open"
    ours = (
        "Mon fils a suivi votre formation de cariste et le formateur n'est jamais venu. Je suis scandalisée "
        "et je demande le remboursement intégral."
    )
    assert assess(on_words, "Formation de mon fils", ours).outcome == "open"
    how = "Bonjour, comment faire une réclamation ? J'ai suivi votre stage de secourisme en mai."
    assert assess(on_words, "Question", how).outcome == "candidate"


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        (
            "Votre contestation de prélèvement",
            "Nous avons étudié votre contestation du prélèvement du 4 mars (IMPRIMERIE DUPONT, 212 €). Le litige "
            "est clos en votre faveur : la somme a été recréditée sur votre compte. Aucune action n'est requise "
            "de votre part.",
        ),
        (
            "Votre déclaration de sinistre",
            "Votre déclaration de sinistre du 12 mai (dégât des eaux dans vos locaux) a bien été enregistrée. "
            "Un expert prendra contact avec vous sous dix jours.",
        ),
    ],
)
def test_notices_about_the_organisations_own_disputes_are_left(recognizer: Recognizer, subject: str, text: str) -> None:
    """The bank or the insurer answering the organisation's own claim: there the organisation is the
    claimant, not the respondent."""
    assert assess(recognizer, subject, text).outcome == "leave"


def test_mixed_feedback_and_polite_annoyance_are_put_before_her(recognizer: Recognizer) -> None:
    mixed = (
        "Bonjour, plusieurs de nos agents m'ont fait un retour plutôt mitigé sur la deuxième journée. "
        "Pourriez-vous me rappeler pour que nous en parlions ?"
    )
    assert assess(recognizer, "Formation bureautique", mixed).outcome == "candidate"
    glad = "Bonjour, les retours de nos agents sont très positifs. Pourriez-vous me rappeler pour organiser la suite ?"
    assert assess(recognizer, "Formation bureautique", glad).outcome == "leave"
    again = (
        "Je prends note que la session est encore reportée, au 14 mars cette fois. Je vous avoue que nos équipes "
        "commencent à s'y perdre : c'est le troisième report depuis l'automne."
    )
    assert assess(recognizer, "Session de mars", again).outcome == "candidate"
    ask = "Serait-il possible de décaler la session du 14 au 21 mars ? Merci d'avance."
    assert assess(recognizer, "Session de mars", ask).outcome == "leave"


def test_small_remarks_inside_thanks_are_put_before_her(recognizer: Recognizer) -> None:
    """« Rien de grave, mais… » concedes, it does not settle: the remarks that follow are a grievance."""
    remarks = (
        "Merci pour ces trois jours, j'ai beaucoup appris. Une petite remarque quand même : on était trop de "
        "monde pour le nombre de postes et la salle était glaciale le matin. Rien de grave, mais dommage."
    )
    assert assess(recognizer, "Merci !", remarks).outcome == "candidate"
    thanks = "Merci pour ces trois jours, j'ai beaucoup appris, et la formatrice était très claire."
    assert assess(recognizer, "Merci !", thanks).outcome == "leave"


def test_an_injury_told_by_a_trainer_opens_an_alea(recognizer: Recognizer) -> None:
    injury = (
        "Une stagiaire s'est coupée en manipulant le cutter pendant l'atelier : entaille au pouce, pansement "
        "et compresses de la trousse de secours. Je la rappelle ce soir."
    )
    result = assess(recognizer, "Atelier de ce matin", injury, reporter=True)
    assert (result.outcome, result.kind) == ("open", "alea")
    kit = "Pense à vérifier la trousse de secours et les pansements avant la session de lundi."
    assert assess(recognizer, "Salle B", kit, reporter=True).outcome == "leave"
    spare = "Je prendrai le vidéoprojecteur de secours au cas où, pas de souci pour lundi."
    assert assess(recognizer, "Lundi", spare, reporter=True).outcome == "leave"


def test_an_absence_that_costs_an_assessment_is_put_before_her(recognizer: Recognizer) -> None:
    exam = (
        "Bonjour, j'ai une angine et mon médecin m'arrête jusqu'à jeudi : je vais manquer l'examen final. "
        "Pourrai-je le rattraper sur une autre session ?"
    )
    assert assess(recognizer, "Absence", exam).outcome == "candidate"
    errand = "Bonjour, je serai absent demain matin pour un rendez-vous, je serai là l'après-midi. Merci."
    assert assess(recognizer, "Absence", errand).outcome == "leave"


def test_an_invoice_already_paid_is_disputed_not_settled(recognizer: Recognizer) -> None:
    """« a déjà été réglée » disputes a second invoice; « a été réglée » alone says it is paid."""
    paid = (
        "Cette facture a déjà été réglée par notre OPCO en début d'année. Nous ne la paierons pas une seconde "
        "fois : merci de l'annuler et de nous envoyer un avoir."
    )
    assert assess(recognizer, "Facture 2024-118", paid).outcome != "leave"
    settled = "Votre facture a été réglée par virement ce jour. Bonne journée."
    assert assess(recognizer, "Facture 2024-118", settled).outcome == "leave"


def test_a_denied_phrase_hides_nothing_inside_it(recognizer: Recognizer) -> None:
    """« n'a été recrédité » denies « été recrédité » (settled), so the demand « recrédité » is read."""
    result = assess(recognizer, "CPF", "Rien n'a été recrédité sur mon compte CPF depuis un mois.")
    assert "recrédité" in result.reasons
    assert result.outcome == "candidate"


def test_a_bad_public_review_is_put_before_her_never_opened(recognizer: Recognizer) -> None:
    notice = (
        "Votre établissement a reçu un nouvel avis.\n{stars} « {words} »\nRépondre à l'avis\n"
        "Vous recevez cet e-mail car vous gérez cette fiche."
    )
    bad = notice.format(stars="★☆☆☆☆", words="Formateur dépassé, beaucoup trop de monde, je ne recommande pas.")
    assert assess(recognizer, "Nouvel avis", bad).outcome == "candidate"
    good = notice.format(stars="★★★★★", words="Super formation, formateur au top, je recommande !")
    assert assess(recognizer, "Nouvel avis", good).outcome == "leave"


@pytest.mark.parametrize(
    ("subject", "text", "reporter"),
    [
        (
            "Commande 4471",
            "Veuillez trouver ci-joint notre bon de commande. Nous acceptons vos conditions générales de vente, "
            "y compris les frais d'annulation. Merci d'indiquer le numéro de commande sur la facture, faute de "
            "quoi elle ne pourra être traitée.",
            False,
        ),
        (
            "Attestation 2026",
            "Vous trouverez ci-joint votre attestation d'assurance. Votre contrat couvre les dommages corporels "
            "en cas d'accident ou de sinistre dans vos locaux.",
            False,
        ),
        (
            "Marc a commenté votre publication",
            "Marc et 4 autres personnes ont réagi à votre publication sur les réclamations et les conflits en "
            "formation. Voir toutes les notifications. Vous recevez ces e-mails car vous êtes membre.",
            False,
        ),
        (
            "Candidature formatrice",
            "Formatrice en sécurité depuis dix ans, je me permets de vous proposer ma candidature. Je sais gérer "
            "les imprévus, les pannes de matériel et désamorcer les conflits. Vous trouverez mon CV en pièce jointe.",
            False,
        ),
        (
            "Été",
            "Je te préviens dès maintenant : je ne pourrai pas assurer les sessions de juillet, je pars trois mois "
            "au Québec.",
            True,
        ),
        (
            "Votre adhésion",
            "Votre adhésion au médiateur de la consommation arrive à échéance. En cas de litige avec un client "
            "après une réclamation écrite, le recours effectif à un médiateur doit être garanti. Cotisation "
            "annuelle : 80 €.",
            False,
        ),
        (
            "Inscription de Paul",
            "Paul est malade et ne pourra pas suivre la formation de mardi. Désolés de cette annulation tardive de "
            "notre part, nous prendrons bien sûr les frais à notre charge.",
            False,
        ),
    ],
)
def test_conditions_notifications_and_plans_are_left(
    recognizer: Recognizer, subject: str, text: str, reporter: bool
) -> None:
    """Conditions (« en cas de litige », « faute de quoi »), a network's notification, a job
    application listing skills, an unavailability announced months ahead, a client cancelling on its
    own side: the words of problems, nothing that happened to anyone."""
    assert assess(recognizer, subject, text, reporter=reporter).outcome == "leave", text


# --- cost -----------------------------------------------------------------------------------------


def _best_time(run: Callable[[], object], repeats: int = 5) -> float:
    """The least CPU time of this thread over `repeats` runs.

    CPU time, not wall time: on a busy machine a long run is preempted more often than a short one,
    which made wall-clock ratios look superlinear when the work was not.
    """
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        run()
        best = min(best, time.thread_time() - start)
    return best


WORST_CASES: dict[str, Callable[[int], tuple[str, str]]] = {
    "whitespace runs": lambda n: ("[" * 50 + " " * 500, ("a" + " " * 99 + "\n" * 20) * (n // 120)),
    "repeated triggers": lambda n: (
        "toujours pas reçu " * 60,
        ("toujours pas reçu inadmissible panne pas de problème ne fonctionnent pas déçue? " * n)[:n],
    ),
    "one huge word": lambda n: ("rembours" + "e" * 2000, "rembours" + "x" * n),
    "punctuation": lambda n: ("?" * 1000, ".!?; " * (n // 5)),
    "prefix words": lambda n: ("", ("remboursement décrochage perturbation " * n)[:n]),
}


@pytest.mark.parametrize("case", sorted(WORST_CASES))
def test_assess_is_linear_on_hostile_input(recognizer: Recognizer, case: str) -> None:
    """4x the input may not cost more than ~5x the time (the cap is 20,000: both sizes are under it)."""
    size = 4_000
    small_subject, small_text = WORST_CASES[case](size)
    big_subject, big_text = WORST_CASES[case](4 * size)
    assert len(big_text) <= recognizer.settings.max_chars

    def run_small() -> object:
        return recognizer.assess(small_subject, small_text, sender_is_reporter=True, spam=False)

    def run_big() -> object:
        return recognizer.assess(big_subject, big_text, sender_is_reporter=True, spam=False)

    run_small(), run_big()  # warm the word cache
    small = big = float("inf")
    for _ in range(11):  # interleaved, so both sizes see the same load on a busy machine
        small, big = min(small, _best_time(run_small, 1)), min(big, _best_time(run_big, 1))
    assert big <= 5 * max(small, 2e-4), f"{case}: {small * 1e3:.2f} ms -> {big * 1e3:.2f} ms"


def test_text_beyond_the_cap_is_not_read(recognizer: Recognizer) -> None:
    cap = recognizer.settings.max_chars
    assert assess(recognizer, "x", "a " * cap + "inadmissible inacceptable toujours pas reçu").outcome == "leave"


# --- the vocabulary file --------------------------------------------------------------------------


def test_shipped_vocabulary_loads_from_a_file_or_from_rules_directories(tmp_path: Path) -> None:
    from_file = load_recognition(VOCABULARY)
    assert from_file.path == VOCABULARY
    override = tmp_path / "recognition" / "vocabulary.toml"
    override.parent.mkdir()
    override.write_text(
        VOCABULARY.read_text(encoding="utf-8").replace("ouvrir = 8.0", "ouvrir = 9.5"), encoding="utf-8"
    )
    mine = load_recognition([RULES, tmp_path])
    assert mine.path == override
    assert mine.settings.open_threshold == 9.5


def test_no_vocabulary_in_the_rules_directories_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RecognitionError, match="no recognition/vocabulary.toml"):
        load_recognition([tmp_path])


MINIMAL = """
[seuils]
ouvrir = 8
proposer = 3
[[groupe]]
nom = "g"
poids = 3
expressions = ["déçu"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vocabulary.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_vocabulary_works(tmp_path: Path) -> None:
    recognizer = load_recognition(write(tmp_path, MINIMAL))
    assert assess(recognizer, "x", "Très déçue.").outcome == "candidate"


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (("ouvrir = 8", "ouvrire = 8"), "seuils.ouvrire", "did you mean 'ouvrir'"),
        (("proposer = 3", "proposer = 9"), "seuils.proposer", "must not exceed seuils.ouvrir"),
        (("ouvrir = 8", 'ouvrir = "8"'), "seuils.ouvrir", "expected a number, got a string"),
        (("poids = 3", 'poids = "fort"'), "groupe[0].poids", "expected a number"),
        (
            ("poids = 3", "poids = 3\ntype = 'plainte'"),
            "groupe[0].type",
            "expected one of reclamation, alea, difficulte",
        ),
        (("poids = 3", "poids = 3\nou = 'corps'"), "groupe[0].ou", "expected one of objet, texte, tout"),
        (("poids = 3", "poids = 3\nnegation = 'oui'"), "groupe[0].negation", "expected true or false"),
        (("poids = 3", "poids = 3\nplafond = -1"), "groupe[0].plafond", "at least 0"),
        (('nom = "g"', 'nom = "g"\ncouleur = "rouge"'), "groupe[0].couleur", "unknown key"),
        (('["déçu"]', '["dé*çu"]'), "groupe[0].expressions[0]", "'*' may only end a word"),
        (('["déçu"]', '["ok", "de*"]'), "groupe[0].expressions[1]", "at least 3 letters"),
        (('["déçu"]', '[".. déçu"]'), "groupe[0].expressions[0]", "'..' must stand between two words"),
        (('["déçu"]', '["déçu", 3]'), "groupe[0].expressions[1]", "expected a string"),
        (('["déçu"]', "[]"), "groupe[0].expressions", "empty array"),
        (('["déçu"]', '["a b c d e f g h i"]'), "groupe[0].expressions[0]", "at most 8 words"),
        (("[seuils]", "[lecture]\ncaracteres = 10\n[seuils]"), "lecture.caracteres", "from 100 to 1000000"),
        (("[seuils]", "[negation]\nmots = ['ne pas']\n[seuils]"), "negation.mots[0]", "expected one word"),
        (
            ("[seuils]", "[etiquettes]\nreclamations = ['X']\n[seuils]"),
            "etiquettes.reclamations",
            "did you mean 'reclamation'",
        ),
        (("[seuils]", "[etiquettes]\nalea = ['[ALEA]']\n[seuils]"), "etiquettes.alea[0]", "expected a tag's word"),
        (("[seuils]", "vocabulaire = 1\n[seuils]"), "vocabulaire", "unknown key"),
        (("proposer = 3", "proposer = 3\nouvrir_si = ['demande+colere']"), "seuils.ouvrir_si[0]", "unknown evidence"),
        (("proposer = 3", "proposer = 3\nouvrir_jamais_si = ['x']"), "seuils.ouvrir_jamais_si[0]", "unknown evidence"),
        (
            ("proposer = 3", "proposer = 3\nouvrir_si_mots = ['demande+colere']"),
            "seuils.ouvrir_si_mots[0]",
            "unknown evidence",
        ),
        (
            ("proposer = 3", "proposer = 3\nouvrir_sur_les_mots = 'oui'"),
            "seuils.ouvrir_sur_les_mots",
            "expected true or false",
        ),
        (("poids = 3", "poids = 3\npreuve = 'a+b'"), "groupe[0].preuve", "expected a word"),
        (("poids = 3", "poids = 3\nsignaleur = 'non'"), "groupe[0].signaleur", "expected true or false"),
        (("proposer = 3", "proposer = 3\nattenuer_si = ['x']"), "seuils.attenuer_si", "unknown evidence"),
        (
            ("[seuils]", "[adresse]\ngrief = ['colere']\nexpressions = ['vous']\n[seuils]"),
            "adresse.grief",
            "unknown evidence",
        ),
        (
            ("[seuils]", "[adresse]\nsauf_si = ['x+y']\nexpressions = ['vous']\n[seuils]"),
            "adresse.sauf_si[0]",
            "unknown evidence",
        ),
        (("[seuils]", "[adresse]\nobligatoire = 'oui'\n[seuils]"), "adresse.obligatoire", "expected true or false"),
        (("[seuils]", "[adresse]\nobligatoire = true\n[seuils]"), "adresse.expressions", "no case could ever open"),
        (("[seuils]", "[adresse]\nphrase = 1\n[seuils]"), "adresse.phrase", "did you mean 'phrases'"),
        (("[seuils]", "[session]\nobligatoire = 1\n[seuils]"), "session.obligatoire", "expected true or false"),
        (("[seuils]", "[session]\nobligatoire = true\n[seuils]"), "session.expressions", "no reported incident"),
        (("[seuils]", "[session]\nchez_nom = ['chez nous']\n[seuils]"), "session.chez_nom[0]", "expected one word"),
        (("[seuils]", "[session]\nailleurs = ['.. client']\n[seuils]"), "session.ailleurs[0]", "'..' must stand"),
        (("[seuils]", "[session]\nsans_effets = []\n[seuils]"), "session.sans_effets", "did you mean 'sans_effet'"),
        (("[seuils]", "[recours]\nexpressions = [3]\n[seuils]"), "recours.expressions[0]", "expected a string"),
        (("[seuils]", "[recours]\nsauf_mots = 'je'\n[seuils]"), "recours.sauf_mots", "expected an array"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, change: tuple[str, str], key: str, reason: str) -> None:
    old, new = change
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(RecognitionError) as caught:
        load_recognition(path)
    assert caught.value.path == path
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_duplicate_group_names_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[[groupe]]\nnom = "g"\npoids = 1\nexpressions = ["x"]\n')
    with pytest.raises(RecognitionError, match=r"groupe\[1\]\.nom: duplicate group name 'g'"):
        load_recognition(path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[[groupe]\n")
    with pytest.raises(RecognitionError, match="invalid TOML") as caught:
        load_recognition(path)
    assert caught.value.path == path and caught.value.key is None


# --- a case opens only for a grievance addressed to the organisation ------------------------------


def shipped_document() -> dict[str, Any]:
    """The shipped vocabulary as TOML data, to compile with one part changed."""
    with VOCABULARY.open("rb") as stream:
        return tomllib.load(stream)


def without(*rules: str) -> Recognizer:
    """The shipped vocabulary opening on words, with structural rules switched off (`adresse`, `session`:
    `obligatoire = false`; `recours`: no clause), to show what each one changes."""
    document = shipped_document()
    document["seuils"]["ouvrir_sur_les_mots"] = True
    for rule in rules:
        if rule == "recours":
            del document["recours"]
        else:
            document[rule]["obligatoire"] = False
    return parse_recognition(document, VOCABULARY)


def without_address_rule() -> Recognizer:
    """The shipped vocabulary with `[adresse] obligatoire = false` (and no remedy clauses, which stop
    some of the same mails on their own): what the rule changes."""
    return without("adresse", "recours")


NOT_ADDRESSED = [
    # a grievance against someone else, in words that name nothing of ours
    "Ce garage m'a facturé deux fois la même vidange. Je suis furieux et j'exige un remboursement immédiat,"
    " faute de quoi je porterai plainte.",
    # a grievance with nothing that points at the organisation or what it provides
    "Je suis scandalisée et très déçue. J'exige un remboursement intégral sous huit jours, faute de quoi je"
    " saisirai le médiateur.",
]


@pytest.mark.parametrize("text", NOT_ADDRESSED)
def test_a_grievance_not_addressed_to_the_organisation_is_put_before_her_not_opened(
    on_words: Recognizer, text: str
) -> None:
    assert assess(without_address_rule(), "Décision", text).outcome == "open"  # the words alone would open
    result = assess(on_words, "Décision", text)
    assert result.outcome == "candidate"
    assert any("ne vise ni l'organisme" in note for note in result.notes)


@pytest.mark.parametrize(
    "text",
    [
        "Vous m'aviez promis l'attestation pour le 3 et je n'ai toujours rien reçu. J'exige qu'elle me soit envoyée.",
        "I paid in March and you never sent the certificate. I want a refund now, this is unacceptable.",
        "Je suis scandalisée : votre formatrice n'est jamais venue. J'exige un remboursement intégral sous huit jours.",
        "Ton équipe m'a laissé tomber, je suis très déçu. J'exige un remboursement intégral sous huit jours.",
    ],
)
def test_a_grievance_addressed_to_the_organisation_still_opens(on_words: Recognizer, text: str) -> None:
    assert assess(on_words, "Suite", text).outcome == "open"


def test_the_organisation_s_name_refers_to_it(tmp_path: Path) -> None:
    """The name comes from the configuration, not from the vocabulary: « déçue par Torréfaction Lumière »."""
    text = (
        "Je suis scandalisée et très déçue par Torréfaction Lumière. J'exige un remboursement intégral sous huit"
        " jours, faute de quoi je saisirai le médiateur."
    )
    assert assess(load_recognition([RULES], open_on_words=True), "Retour", text).outcome == "candidate"
    named = load_recognition([RULES], "Torréfaction Lumière", open_on_words=True)
    assert assess(named, "Retour", text).outcome == "open"


def test_a_known_reporter_s_incident_keeps_its_own_rule(recognizer: Recognizer) -> None:
    text = "Coupure de courant générale à 10 h, le bâtiment a été évacué et nous n'avons pas pu reprendre avant midi."
    assert assess(recognizer, "Panne", text, reporter=True).outcome == "open"


# --- a known reporter's incident opens only when it is about the organisation's own session -------


ANOTHER_CLIENTS_INCIDENT = [
    "Coucou Alice, journée mémorable hier chez mon autre client : le four a pris feu pendant la démo et tout"
    " le bâtiment a été évacué. Les pompiers sont restés deux heures.",
    "Hi Alice, rough week. At my other client the projector blew up on day one and a trainee cut her hand on"
    " the broken glass, first aid had to come.",
    "Petite anecdote : chez Boulangeries Marchand, un apprenti s'est coupé assez profond au pétrin, on a dû"
    " appeler les pompiers.",
]


@pytest.mark.parametrize("text", ANOTHER_CLIENTS_INCIDENT)
def test_a_known_reporter_s_incident_at_another_client_is_not_opened(recognizer: Recognizer, text: str) -> None:
    assert assess(without("session"), "Nouvelles", text, reporter=True).outcome == "open"  # the words alone
    result = assess(recognizer, "Nouvelles", text, reporter=True)
    assert result.outcome == "candidate"
    assert any("autre client" in note for note in result.notes)


def test_another_client_s_incident_that_changes_nothing_for_us_is_left(recognizer: Recognizer) -> None:
    text = (
        "Salut Alice, grosse panne chez mon autre client, la chambre froide a lâché et ils ont annulé leurs deux"
        " jours. Pour toi rien ne change, je serai bien là mardi à 9 h."
    )
    assert assess(without("session"), "Info", text, reporter=True).outcome == "open"
    result = assess(recognizer, "Info", text, reporter=True)
    assert result.outcome == "leave"
    assert any("ne change rien" in note for note in result.notes)


@pytest.mark.parametrize(
    "text",
    [
        # the other client named, but the incident is ours: the session is nearer to it
        "Je sors de chez mon autre client. Ce matin en pleine session, une stagiaire a fait un malaise et les"
        " pompiers l'ont emmenée.",
        # a session held at a client's premises is still ours: « chez » + a name yields to the session
        "Alice, la session chez Transports Veyrat a été coupée à 10 h : le vidéoprojecteur a lâché et la salle"
        " a été évacuée après une alarme incendie.",
        # no other client at all: the group is named
        "Le four a pris feu pendant la démo, j'ai fait sortir le groupe et appelé les pompiers.",
    ],
)
def test_a_known_reporter_s_incident_at_our_session_still_opens(recognizer: Recognizer, text: str) -> None:
    assert assess(recognizer, "Incident", text, reporter=True).outcome == "open"


def test_the_organisation_s_name_places_the_incident_at_its_session() -> None:
    """« chez <name> » is another client, unless the name is the organisation's (from the configuration)."""
    text = "Chez Atelier Brun, la machine a pris feu pendant la démo et une apprentie s'est brûlée."
    assert assess(load_recognition([RULES]), "Incident", text, reporter=True).outcome == "candidate"
    assert assess(load_recognition([RULES], "Atelier Brun"), "Incident", text, reporter=True).outcome == "open"


# --- a clause offering a remedy is never a grievance ----------------------------------------------


REMEDY_CLAUSES = [
    "Nous vous confirmons la prise en charge de la formation Tableur avancé. En cas de désaccord sur le"
    " montant retenu, vous pouvez former un recours gracieux et exiger un réexamen dans les deux mois.",
    "Votre dossier de formation a été examiné. Voies de recours : vous pouvez contester cette décision et"
    " demander le remboursement des frais engagés auprès du médiateur.",
    "Your training grant has been approved. If you disagree with the amount, you may contest this decision and"
    " file a formal complaint within 30 days.",
]


@pytest.mark.parametrize("text", REMEDY_CLAUSES)
def test_a_clause_offering_a_remedy_is_not_a_grievance(recognizer: Recognizer, text: str) -> None:
    assert assess(without("recours"), "Décision", text).outcome != "leave"  # its words alone are a grievance
    result = assess(recognizer, "Décision", text)
    assert result.outcome == "leave"
    assert any("voie de recours" in note for note in result.notes)


def test_a_remedy_clause_cancels_only_its_own_sentence(on_words: Recognizer) -> None:
    """The grievance beside the clause still counts; so does a threat the writer makes herself."""
    beside = (
        "Votre formatrice n'est jamais venue et je suis scandalisée. J'exige un remboursement intégral. Je sais"
        " qu'en cas de litige vous pouvez proposer une médiation."
    )
    assert assess(on_words, "Formation du 4", beside).outcome == "open"
    threat = "Votre attestation est toujours fausse. En cas de litige persistant, je saisirai le médiateur et j'exige un avoir."
    result = assess(on_words, "Attestation", threat)
    assert result.outcome == "open"
    assert "saisirai le médiateur" in result.reasons


# --- English politeness and negation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reporter"),
    [
        (
            "Hi Alice, sorry for the delay with my expense claim, the train strike made everything slow. No"
            " problems at all during the two days, the group was lovely.",
            True,
        ),
        (
            "Sorry for the delay in getting back to you about the cancelled train. No problem at all, it's not an issue.",
            True,
        ),
        (
            "Hello, apologies for the delay in returning the signed agreement. Nothing to worry about on our side,"
            " it's not an issue for the start date.",
            False,
        ),
    ],
)
def test_english_politeness_about_oneself_is_ordinary_mail(
    vocabulary_alone: Recognizer, text: str, reporter: bool
) -> None:
    document = shipped_document()
    document["groupe"] = [group for group in document["groupe"] if group["nom"] != "politesse-anglaise"]
    assert assess(parse_recognition(document, VOCABULARY), "Quick note", text, reporter=reporter).outcome != "leave"
    assert assess(vocabulary_alone, "Quick note", text, reporter=reporter).outcome == "leave"


# --- families seen on blind sets 4 and 5, checked on fresh sentences ------------------------------


def without_phrases(*phrases: str, open_on_words: bool | None = None) -> Recognizer:
    """The shipped vocabulary without these expressions (in any group or structural list) or, for a
    name prefixed by « groupe: », without that group: what a family of phrasing changes."""
    document = shipped_document()
    groups = {phrase.removeprefix("groupe:") for phrase in phrases if phrase.startswith("groupe:")}
    gone = {group.get("preuve") for group in document["groupe"] if group["nom"] in groups}
    document["groupe"] = [group for group in document["groupe"] if group["nom"] not in groups]
    gone -= {group.get("preuve") for group in document["groupe"]}
    for name in ("ouvrir_jamais_si", "attenuer_si"):  # an evidence no group shows any more is not named
        document["seuils"][name] = [needed for needed in document["seuils"][name] if needed not in gone]
    for group in document["groupe"]:
        group["expressions"] = [phrase for phrase in group["expressions"] if phrase not in phrases]
    for table, key in (("recours", "expressions"), ("session", "ailleurs"), ("session", "sans_effet")):
        document[table][key] = [phrase for phrase in document[table][key] if phrase not in phrases]
    return parse_recognition(document, VOCABULARY, open_on_words=open_on_words)


CLAIM_FAMILIES = [
    # paying only one's share: the disputed invoice said as a decision, not as a complaint
    (
        "Facture formation",
        "Votre facture compte six stagiaires ; or deux d'entre eux n'ont jamais été convoqués. Nous ne paierons"
        " que les quatre places suivies.",
        ("ne paierons que", "ne paierons .. que"),
    ),
    # what was paid for against what the schedule shows, asked as a question
    (
        "Dates",
        "My receipt says four evening lessons but the timetable only lists three. Which is correct? I paid for four.",
        ("only lists", "which is correct", "i paid for"),
    ),
    # cancelled, then cancelled again, and the polite weariness that follows
    (
        "Atelier",
        "L'atelier de novembre a été reporté puis annulé. Je commence à me dire que ça ne se fera jamais :"
        " pouvez-vous rembourser mon fils ?",
        ("reporté puis", "reportée puis", "je commence à me dire"),
    ),
    (
        "atelier",
        "latelier a ete annule deux fois, je commence a douter que ca se fasse un jour. possible d etre rembourse ?",
        ("annulé deux fois", "je commence à douter"),
    ),
    # the precaution before the critique, and the programme cut short
    (
        "Quelques mots",
        "Merci pour ces deux jours. Sans vouloir être désagréable, la partie sur la torréfaction a été écourtée à"
        " une heure.",
        ("groupe:precaution", "a été écourtée", "écourté", "écourtée"),
    ),
    (
        "Handouts",
        "Thank you for a lovely day. I don't want to be a pain, but the recipe booklet mentioned in the course"
        " description has not arrived. Could you send it?",
        ("groupe:precaution", "mentioned in the course description"),
    ),
    # the document to send again, corrected
    (
        "Attestation",
        "Ma date de naissance est fausse sur l'attestation. Pourriez-vous me renvoyer une version corrigée ?",
        ("renvoyer une version corrigée", "une version corrigée"),
    ),
    # cleanliness, reported lightly
    (
        "Un détail",
        "Rien de grave, juste pour info : les verres du bar n'étaient pas très propres le deuxième jour,"
        " on les a relavés nous-mêmes.",
        ("pas très propres", "pas très propre", "rien de grave juste"),
    ),
]


@pytest.mark.parametrize(("subject", "text", "phrases"), CLAIM_FAMILIES)
def test_claim_families_are_put_before_her(
    vocabulary_alone: Recognizer, subject: str, text: str, phrases: tuple[str, ...]
) -> None:
    """Polite, indirect or administrative claims: each family flags a mail it alone makes seen."""
    assert assess(without_phrases(*phrases), subject, text).outcome == "leave", text
    assert assess(vocabulary_alone, subject, text).outcome != "leave", text


def test_nearly_nothing_to_report_is_an_incident(vocabulary_alone: Recognizer) -> None:
    """« RAS ou presque » announces the incident that follows; « RAS » alone says the day went well."""
    text = "Bonne journée dans l'ensemble. La bouilloire a lâché à 11 h, le groupe a fini sans thé. À racheter."
    assert assess(without_phrases("groupe:ou-presque"), "RAS ou presque", text, reporter=True).outcome == "leave"
    assert assess(vocabulary_alone, "RAS ou presque", text, reporter=True).outcome != "leave"


ORDINARY_FAMILIES = [
    # a notice that says itself nothing is expected of the reader
    (
        "Remboursement de frais",
        "Madame, nous vous informons que votre demande de remboursement de frais de déplacement a été examinée."
        " Le remboursement sera effectué par virement sous quinze jours.",
        ("groupe:notification",),
        False,
    ),
    # a journalist's subject is the difficulty
    (
        "Demande d'interview",
        "Bonjour, je prépare un article sur les difficultés de recrutement des cafés et les reconversions ratées."
        " Auriez-vous vingt minutes ? Pauline, journaliste",
        ("groupe:presse",),
        False,
    ),
    # the accountant's reminder about the organisation's own books
    (
        "Relance : pièces manquantes",
        "Il nous manque toujours les relevés de caisse de mars pour la clôture des comptes ; sans eux nous serons"
        " en retard pour le dépôt de la liasse.",
        ("pièces manquantes", "clôture des comptes", "dépôt de la liasse"),
        False,
    ),
    # a rule offered to others: « pourra … réclamation »
    (
        "Règlement du concours",
        "Nouveau règlement du concours : chaque finaliste pourra contester sa note et déposer une réclamation"
        " écrite auprès du jury.",
        ("pourra .. réclamation", "pourra .. contester"),
        False,
    ),
    # a learner moving her own session for a childcare problem, in SMS French
    (
        "report",
        "bjr c possible de decaler ma session en juin ? souci de garde pour mon fils, dsl pour le derangement",
        (
            "c possible de décaler",
            "possible de décaler ma",
            "décaler ma session",
            "souci de garde",
            "dsl pour",
            "désolé pour le dérangement",
        ),
        False,
    ),
    # a trainer noting a departure the learner had announced
    (
        "émargement",
        "Pour info, M. Perrin est parti à 15 h, il m'avait prévenu la veille. C'est noté sur la feuille.",
        ("il m avait prévenu", "il m avait prévenue"),
        True,
    ),
    # a trainer free again because another client cancelled
    (
        "Dispo jeudi",
        "Mon autre client à Annecy a annulé jeudi, leur gérant est malade : je me retrouve libre ce jour-là si"
        " tu veux me confier le groupe du matin.",
        ("je me retrouve libre",),
        True,
    ),
]


@pytest.mark.parametrize(("subject", "text", "phrases", "reporter"), ORDINARY_FAMILIES)
def test_ordinary_families_are_left(
    vocabulary_alone: Recognizer, subject: str, text: str, phrases: tuple[str, ...], reporter: bool
) -> None:
    """Notices, press, bookkeeping, rules offered to others, one's own rescheduling, a departure announced,
    a trainer's news about another client: problem words, no claim against the organisation."""
    assert assess(without_phrases(*phrases), subject, text, reporter=reporter).outcome != "leave", text
    assert assess(vocabulary_alone, subject, text, reporter=reporter).outcome == "leave", text


def test_nobody_warned_me_is_still_an_incident(recognizer: Recognizer) -> None:
    """« il m'avait prévenu » is an absence announced; « personne ne m'avait prévenue » is the opposite."""
    text = (
        "Je découvre ce matin qu'une stagiaire ne lit pas le français, personne ne m'avait prévenue. Elle ne suit pas."
    )
    assert assess(recognizer, "Stagiaire", text, reporter=True).outcome != "leave"


# --- families seen on blind sets 6 and 7, checked on fresh sentences ------------------------------

FAMILIES_6_7 = [
    # the silence after a promise to come back, and the deadline long past (SMS French, English)
    (
        "coaching",
        "pour le coaching apres la formation on ma dit quon me recontactait, puis plus rien",
        ("puis plus rien", "et puis plus rien"),
        False,
    ),
    (
        "Entretien de suivi",
        "L'entretien de suivi annoncé sur votre site devait avoir lieu en avril. Le délai est largement dépassé.",
        ("largement dépassé", "délai .. dépassé", "délai est passé"),
        False,
    ),
    (
        "Follow-up call",
        "The course page mentioned a follow-up call after six weeks. I wrote in May and heard nothing since.",
        ("heard nothing since",),
        False,
    ),
    # the client that holds back payment until the service conforms
    (
        "Facture F-2291",
        "Le support de cours prévu au devis n'a pas été remis. Nous suspendons le paiement de votre facture.",
        ("suspendons le paiement", "suspendre le paiement"),
        False,
    ),
    (
        "Invoice 4471",
        "The names on the certificates are wrong, so we are withholding payment for now.",
        ("withholding payment", "withhold payment"),
        False,
    ),
    # a grievance passed on with a word in between, or left at a partner's front desk
    (
        "Retour des participants",
        "Nos apprentis sont revenus contents, ils m'ont toutefois fait part de remarques sur les horaires.",
        ("m'ont .. fait part",),
        False,
    ),
    (
        "Message pour Cafémétrie",
        "Bonjour, une dame a laissé ce mot hier à notre accueil, je vous le transmets tel quel.",
        ("laissé .. à notre accueil", "laissé à notre accueil", "vous le transmets tel quel"),
        True,
    ),
    # « rien de grave, je voulais juste… » announces the remark; a part rushed; more practice wished
    (
        "Journée dégustation",
        "Rien de grave, je voulais juste vous dire que la partie dégustation a été un peu expédiée.",
        ("rien de grave je voulais", "rien de grave je voulais juste"),
        False,
    ),
    ("Atelier du 3", "Merci, c'était bien. La partie sur le moulin a été vite expédiée.", ("vite expédié",), False),
    (
        "Atelier du 3",
        "Merci, c'était bien. J'aurais bien aimé un peu plus de pratique sur la machine.",
        ("aurais bien aimé .. plus de", "aimé .. plus de pratique"),
        False,
    ),
    # objectives not reached (an opinion is not a document found), hours missing, nobody explained
    (
        "Evaluation",
        "J'ai trouvé que ça allait vite, et les objectifs n'ont pas été atteints pour moi. Un complément de"
        " pratique est-il possible ?",
        (
            "objectifs n'ont pas été atteints",
            "objectifs .. pas .. atteints",
            "groupe:opinion",
            "complément de pratique",
        ),
        False,
    ),
    (
        "horaires",
        "le stage faisait 14h sur le papier, on a fait seulement 10 heures. les heures qui manquent c'est pour qui ?",
        ("fait seulement .. heures", "heures qui manquent"),
        False,
    ),
    (
        "Formation",
        "Personne ne nous a expliqué pourquoi l'après-midi s'est fait en vidéo.",
        ("personne ne nous a expliqué",),
        False,
    ),
    # a learner set apart by the group, and the unease that keeps her from saying it in the room
    (
        "Le groupe",
        "Depuis lundi je me sens un peu mise à l'écart, les autres font les binômes entre eux.",
        ("mis à l'écart", "mise à l'écart"),
        False,
    ),
    (
        "Le groupe",
        "Je n'ose pas en parler en séance, mais je trouve que la formatrice va trop vite pour moi.",
        ("je n'ose pas", "n'ose pas en parler"),
        False,
    ),
    ("Group work", "I feel left out in the group, the others always pair up together.", ("left out",), False),
    # a trainer's incidents: the heat, the room booked twice, a machine to have checked, what must not recur
    (
        "Journée de mardi",
        "Salle sous les toits, 35 degrés l'après-midi, c'était intenable et deux stagiaires ont eu des vertiges.",
        ("intenable", "vertige"),
        True,
    ),
    (
        "Room",
        "The room had a double booking this morning, the group waited in the hall for an hour.",
        ("double booking", "double booked"),
        True,
    ),
    (
        "Machine 2",
        "La machine 2 siffle depuis hier, ce serait bien de la faire regarder avant lundi.",
        ("siffle", "faire regarder", "à faire regarder"),
        True,
    ),
    (
        "Compte rendu",
        "Mercredi nous avons mangé sur place faute de traiteur. Il faudrait voir avec lui pour que ça ne se"
        " reproduise pas.",
        ("ne se reproduise pas", "que ça ne se reproduise"),
        True,
    ),
]


ORDINARY_FAMILIES_6_7 = [
    # a supplier's shipping delay, with the offer to cancel
    (
        "Your order 88213",
        "We are sorry to inform you that your order will be shipped with a delay of ten days due to a stock"
        " shortage. If you prefer to cancel, we will issue a full refund.",
        ("will be shipped", "shipped with a delay", "stock shortage", "if you prefer to cancel", "issue a full refund"),
        False,
    ),
    # a trainer announcing her own slight lateness
    (
        "Lundi",
        "Je confirme Chambéry lundi ; j'aurai peut-être un léger retard, je rentre de Lyon la veille au soir.",
        ("aurai peut être un léger retard", "aurai .. léger retard"),
        True,
    ),
    # an administration's or a platform's notice: a document available, a deadline and its consequence
    (
        "URSSAF",
        "Votre attestation de vigilance est disponible dans votre espace. Vous êtes à jour de vos obligations et"
        " aucune majoration de retard n'est due.",
        (
            "attestation de vigilance",
            "à jour de vos obligations",
            "disponible dans votre espace",
            "est disponible dans votre espace",
        ),
        False,
    ),
    (
        "Dossier 12-889",
        "Nous vous rappelons que la feuille d'émargement doit être transmise sous dix jours, sous peine de rejet"
        " de la prise en charge.",
        ("sous peine de rejet",),
        False,
    ),
    (
        "Nouvelle demande",
        "Un candidat a déposé une demande. Vous disposez de 48 h pour l'accepter ou la refuser. À défaut, la"
        " demande sera automatiquement annulée.",
        ("à défaut la demande", "automatiquement annulé", "accepter ou refuser"),
        False,
    ),
    (
        "Pièces justificatives",
        "Les pièces suivantes sont manquantes ou illisibles : facture, émargements. Une relance vous sera adressée"
        " dans 30 jours.",
        ("manquantes ou illisibles", "relance vous sera adressée"),
        False,
    ),
    # the accountant's questions about the organisation's own books
    (
        "Bilan",
        "Pour la clôture, peux-tu me dire si le dossier Martin peut donner lieu à une provision pour litige ? Et le"
        " crédit de TVA a été remboursé.",
        ("provision pour litige", "donner lieu à une provision", "crédit de tva"),
        False,
    ),
    # a venue's booking conditions and its equipment serviced
    (
        "Réservation avril",
        "Je te rappelle nos conditions : annulation gratuite jusqu'à 15 jours avant. Le four a été révisé, tu ne"
        " devrais plus avoir de mauvaise surprise.",
        (
            "annulation gratuite",
            "rappelle nos conditions",
            "a été révisé",
            "a été révisée",
            "plus de mauvaise surprise",
        ),
        True,
    ),
    # a learner whose employer will not release her asks to move to a later session
    (
        "Formation juin",
        "Mon patron refuse de me libérer en juin, je suis vraiment dégoûtée. Est-il possible de me reporter sur"
        " la session de septembre ?",
        ("refus* .. de me libérer", "possible de me reporter", "me reporter sur la session"),
        False,
    ),
]


def test_a_sales_pitch_about_complaints_never_opens(on_words: Recognizer) -> None:
    """Software or an agency selling complaint handling writes every claim word; its demo, free trial and
    « saviez-vous » are signs of a mass mailing, which never opens."""
    subject = "Plus aucune réclamation sans réponse"
    text = (
        "Saviez-vous qu'un client mécontent sur trois ne revient jamais ? Notre outil centralise vos réclamations,"
        " vos plaintes et vos relances. Essai gratuit, réservez une démo."
    )
    pitch = ("réservez une démo", "réserver une démo", "demander une démo", "essai gratuit", "saviez vous que")
    assert assess(without_phrases(*pitch, "centralisez", open_on_words=True), subject, text).outcome == "open"
    assert assess(on_words, subject, text).outcome != "open"


def test_a_dispute_with_a_former_employee_never_opens(on_words: Recognizer) -> None:
    """A lawyer writing for a former employee disputes the organisation as an employer, not a training:
    the director sees it, nothing is acknowledged as a complaint."""
    text = (
        "Maître Duval, avocat. Je représente Mme Lenoir, votre ancienne salariée, qui conteste les conditions de"
        " la rupture de son contrat de travail. Je vous propose une médiation et attends votre réponse sous huit"
        " jours, à défaut de quoi je saisirai le conseil de prud'hommes."
    )
    assert assess(without_phrases("groupe:droit-du-travail", open_on_words=True), "Mme Lenoir", text).outcome == "open"
    assert assess(on_words, "Mme Lenoir", text).outcome == "candidate"


def test_a_signature_s_name_is_not_a_crowded_room(vocabulary_alone: Recognizer) -> None:
    """« Serre » signing a request is a name; « on était très serrés » is the room that was too small."""
    request = "Pourriez-vous nous envoyer les attestations d'assiduité de nos salariés ?\n\nMerci,\nClaire Serre"
    assert assess(vocabulary_alone, "Attestations", request).outcome == "leave"
    crowded = "On était très serrés autour d'une seule machine, à peine vingt minutes chacun."
    assert assess(without_phrases("très serrés"), "Atelier", crowded).outcome == "leave"
    assert assess(vocabulary_alone, "Atelier", crowded).outcome != "leave"


def test_keeping_a_session_on_the_planning_is_not_maintaining_a_claim(recognizer: Recognizer) -> None:
    """« je maintiens Grenoble » keeps a date; « je maintiens ma demande » keeps a claim."""
    planning = "Comme convenu, je maintiens Grenoble les 3 et 4 ; pour Valence, on annule faute d'inscrits."
    assert assess(recognizer, "Planning", planning, reporter=True).outcome == "leave"
    claim = "Je maintiens ma demande de remboursement : la deuxième journée n'a pas eu lieu."
    assert assess(recognizer, "Votre réponse", claim).outcome != "leave"


def test_an_alarm_set_to_wake_up_is_not_a_fire_alarm(vocabulary_alone: Recognizer) -> None:
    """A trainer sorry for her own lateness, who « a mis une alarme » so that it does not happen again:
    nothing to open (the fire alarm is an aléa; the alarm clock is an idiom, like « du coup »)."""
    text = (
        "Désolée pour mon retard de ce matin avec le groupe. Pour que ça ne se reproduise pas, j'ai mis une alarme"
        " de plus sur mon téléphone."
    )
    idiom = ("mis une alarme", "mettre une alarme", "mets une alarme", "mis un réveil", "set an alarm")
    assert assess(without_phrases(*idiom), "Ce matin", text, reporter=True).outcome == "open"
    assert assess(vocabulary_alone, "Ce matin", text, reporter=True).outcome != "open"


# --- families seen on blind set 8, checked on fresh sentences -------------------------------------

FAMILIES_8 = [
    # the gap between what was agreed, promised or announced and what happened, said quietly
    (
        "Programme",
        "Le programme envoyé ne colle pas tout à fait à ce que nous avions convenu lors du rendez-vous.",
        ("pas tout à fait à ce que", "pas .. à ce que nous avions convenu", "pas .. ce que nous avions convenu"),
        False,
    ),
    (
        "horaires",
        "les horaires c pas du tout ce quon avait dit au tel",
        ("pas .. ce quon avait dit",),
        False,
    ),
    (
        "Room",
        "The room we were given for the workshop was not what we agreed on the phone.",
        ("not what we agreed",),
        False,
    ),
    # a document of ours that says something else, noticed politely, and its correction asked
    (
        "Certificat",
        "Bonjour, je constate que le certificat indique deux jours au lieu de trois. Serait-il possible de le"
        " corriger ?",
        ("groupe:ecart-document",),
        False,
    ),
    # the disappointment or surprise of having had nothing back
    (
        "Re: Demande de devis",
        "Légèrement étonnée de ne pas avoir eu de nouvelles depuis ma demande de devis de septembre.",
        ("groupe:silence-decu",),
        False,
    ),
    (
        "Certificate",
        "Bit surprised not to have heard back about my certificate since the course ended.",
        ("groupe:silence-decu",),
        False,
    ),
    # not understanding why, in SMS French and in English
    ("facture", "jcomprends pas pk on ma facturé 3 jours", ("groupe:incomprehension",), False),
    (
        "Invoice",
        "I don't understand why the invoice shows three days when our two people attended two.",
        ("groupe:incomprehension",),
        False,
    ),
    # a trainer unable to run the session, in her own words
    (
        "demain",
        "Salut Alice, je suis au fond du lit, pas en état d'animer demain avec le groupe de Villeurbanne.",
        ("groupe:empechement-formateur",),
        True,
    ),
    (
        "Tomorrow",
        "Alice, bedridden since last night, no way I can do tomorrow with the group.",
        ("groupe:empechement-formateur",),
        True,
    ),
    # a group whose level does not match the course, even « rien de grave »
    (
        "Bilan module avancé",
        "Groupe sympa mais très hétérogène : trois débutants complets dans un module avancé, j'ai fait deux"
        " niveaux toute la journée. Rien de grave.",
        ("groupe:niveau-groupe",),
        True,
    ),
]


ORDINARY_FAMILIES_8 = [
    # a payment processor's refund made, a supplier's precautionary recall
    (
        "Remboursement effectué",
        "Un remboursement de 120,00 € a été effectué pour le paiement en double. Les fonds apparaîtront sur le"
        " relevé du client sous 5 jours.",
        ("groupe:avis-paiement",),
        False,
    ),
    (
        "Avis de rappel",
        "Par mesure de précaution, nous procédons au rappel des bouilloires du lot 17 : risque de brûlure.",
        ("groupe:avis-paiement",),
        False,
    ),
    # a network's interruption announced with its date
    (
        "Coupure d'électricité du 3 mars",
        "L'électricité sera coupée le 3 mars de 9 h à 11 h dans le cadre de travaux sur le réseau.",
        ("sera coupée le", "dans le cadre de travaux", "coupure .. programmée"),
        False,
    ),
    # a question asked out of curiosity, before enrolling
    (
        "Examen",
        "Si on échoue à l'épreuve pratique, peut-on la repasser ? Je demande par curiosité, je stresse déjà.",
        ("groupe:curiosite",),
        False,
    ),
    (
        "Accessibilité",
        "Je suis intéressée par la formation de mai. Je me déplace en fauteuil roulant : la salle et les"
        " toilettes sont-elles accessibles ?",
        ("je suis intéressé par la formation",),
        False,
    ),
    # a bank's own incident, set right at no cost
    (
        "Incident de paiement régularisé",
        "Votre prélèvement, rejeté suite à un incident technique de notre côté, a été représenté. Aucun frais ne"
        " vous a été facturé.",
        ("incident de paiement", "incident .. régularisé", "incident technique de notre côté", "aucun frais ne vous"),
        False,
    ),
]


def test_a_reminder_of_the_organisation_s_own_obligations_never_opens(on_words: Recognizer) -> None:
    """A mediation body reminding its member to inform consumers cites médiation, litige and réclamation;
    nobody claims anything, even with `open_on_words`."""
    subject = "Rappel : vos obligations d'information sur la médiation"
    text = (
        "En tant que professionnel adhérent, vous devez indiquer à vos clients consommateurs les coordonnées du"
        " médiateur. Le consommateur ne peut saisir le médiateur qu'après une réclamation écrite restée sans"
        " suite auprès de vous. Votre adhésion court jusqu'en décembre."
    )
    assert assess(without_phrases("groupe:obligations-organisme", open_on_words=True), subject, text).outcome == "open"
    assert assess(on_words, subject, text).outcome != "open"


# --- families seen on blind set 9, checked on fresh sentences -------------------------------------

FAMILIES_9 = [
    # charged twice for one enrolment, noticed on a bank statement
    (
        "Mon relevé",
        "Je vois deux prélèvements de 650 € pour le module de juin, alors que je ne me suis inscrit qu'une fois."
        " Vous pouvez vérifier ?",
        ("groupe:double-debit",),
        False,
    ),
    (
        "paiement",
        "jcrois que jai été prelevé 2 fois pour la formation, vous pouvez regarder svp",
        ("groupe:double-debit",),
        False,
    ),
    (
        "Card payment",
        "I think I was charged twice for the latte art workshop. Could you look into it?",
        ("groupe:double-debit",),
        False,
    ),
    # a name misspelt on a document due, asked kindly
    (
        "Mon certificat",
        "Merci beaucoup pour le certificat ! Petit détail : il y a une faute dans mon nom (Dupond et non Dupont)."
        " Serait-il possible de le corriger ?",
        ("groupe:erreur-nom",),
        False,
    ),
    (
        "Certificate",
        "Thanks for the certificate! Just one thing, my name is misspelled (Sean, not Shaun). Could you please"
        " correct it?",
        ("groupe:erreur-nom",),
        False,
    ),
    # what the brochure or programme announced and was not there, asked as a question
    (
        "Les supports",
        "Le programme indiquait un livret de recettes remis à chaque stagiaire ; je ne l'ai pas eu. Merci !",
        ("groupe:annonce-non-tenue",),
        False,
    ),
    (
        "Coffee break?",
        "The brochure said coffee and pastries were included, but there was nothing this morning. Will there be"
        " some tomorrow?",
        ("groupe:annonce-non-tenue",),
        False,
    ),
    # a partner venue's machine that died before the session, in English
    (
        "Tomorrow",
        "Our grinder died this morning and the technician can't come before Friday. We'll have to share the"
        " small one with your group tomorrow.",
        ("died this morning", "technician can t come"),
        True,
    ),
]

ORDINARY_FAMILIES_9 = [
    # a grievance against an hotel, told as an aside: the course itself is not in question
    (
        "Logement",
        "Petit message hors formation : l'hôtel où j'ai dormi était horrible, chauffage en panne et personne à"
        " l'accueil. La formation elle-même était top ; auriez-vous une autre adresse pour la prochaine session ?",
        ("groupe:hors-formation",),
        False,
    ),
    # an employer who will not let the learner go, and the question what to do with the seat
    (
        "Ma place",
        "Mon manager refuse finalement que je parte en formation en juin, c'est injuste. Puis-je garder ma place"
        " et venir sur mes congés ?",
        ("groupe:hors-formation",),
        False,
    ),
    # a question before booking, in English, after a bad experience elsewhere
    (
        "Evening classes",
        "I'm looking for a course in the evenings. My last school cancelled half the lessons and never refunded"
        " me, so what is your refund policy before I book?",
        ("before booking", "before i book", "looking for a course", "i m looking for a"),
        False,
    ),
    # a trainer proposing a module whose subject is complaints
    (
        "Nouveau module",
        "Une idée de module : accueillir les réclamations au comptoir, avec des jeux de rôle sur des cas réels"
        " (remboursement exigé, erreur de commande).",
        ("jeux de rôle", "jeu de rôle", "cas réels", "nouveau module", "idée de module"),
        True,
    ),
    # a law firm's pitch
    (
        "Vos CGV",
        "Contentieux, médiateur, mises en demeure : notre cabinet vous protège. Premier audit offert, prenez"
        " rendez-vous en ligne. Pour ne plus recevoir nos messages, répondez STOP.",
        ("prenez rendez vous en ligne", "audit offert", "premier audit"),
        False,
    ),
    # a funder's file closed for want of documents, and an invoice that needs its purchase order
    (
        "Dossier 4471",
        "Pour instruire la prise en charge, merci de déposer l'attestation d'assiduité. Sans ces pièces sous 8"
        " jours, la demande sera classée sans suite.",
        ("sera classée sans suite", "sera classé sans suite", "seront classées sans suite", "sans ces pièces"),
        False,
    ),
    (
        "Facture 118",
        "Merci de rééditer la facture 118 avec notre numéro de bon de commande, faute de quoi elle ne pourra pas"
        " être payée.",
        ("faute de quoi .. ne pourra pas être", "numéro de bon de commande"),
        False,
    ),
    (
        "Nouvelle demande d'inscription",
        "Caisse des Dépôts : un titulaire a déposé une demande d'inscription à votre session de mars. Sans"
        " réponse, la demande sera automatiquement annulée.",
        ("sans réponse .. sera automatiquement", "sans réponse de votre part .. sera automatiquement"),
        False,
    ),
    # one's own postponement, for a personal reason
    (
        "Ma formation",
        "Malheureusement je me suis cassé le poignet au ski, impossible de tenir un pichet. Serait-il possible de"
        " reporter ma formation à la rentrée ? Désolé pour le changement !",
        ("possible de reporter ma", "reporter ma formation", "désolé pour le changement", "désolée pour le changement"),
        False,
    ),
    # a supplier's or a software vendor's own incident, already repaired and compensated
    (
        "Incident du 12",
        "L'interruption de service de notre plateforme de visio le 12 est désormais résolue. En dédommagement, un"
        " mois d'abonnement sera crédité sur votre compte.",
        ("groupe:avis-fournisseur",),
        False,
    ),
    # « ça vaut le coup » (worth it) is no cut cable
    (
        "Nouveau moulin",
        "Le nouveau moulin vaut vraiment le coup, les stagiaires ont adoré. Ça vaudrait le coup d'en prendre un second.",
        ("vaut le coup", "vaudrait le coup", "vaut vraiment le coup"),
        True,
    ),
    (
        "Vos mugs",
        "Vos 40 mugs sont prêts, avec un petit retard sur la date annoncée. Ils peuvent être retirés dès lundi.",
        ("groupe:avis-fournisseur",),
        False,
    ),
]


def test_the_organisation_s_own_counsel_on_its_own_dispute_never_opens(
    vocabulary_alone: Recognizer, on_words: Recognizer
) -> None:
    """Its lawyer writing about the organisation's dispute with a landlord or a supplier: a formal notice is
    in it, but the organisation sent it; the mail is never opened as a claim against the organisation."""
    text = (
        "Madame, la partie adverse accepte enfin de reprendre le torréfacteur défectueux, à la suite de notre mise"
        " en demeure. Elle conteste toutefois les frais d'expertise ; je vous propose d'en parler mardi."
    )
    assert assess(without_phrases("notre mise en demeure", "la partie adverse"), "Litige", text).outcome == "open"
    assert assess(vocabulary_alone, "Litige", text).outcome != "open"
    assert assess(on_words, "Litige", text).outcome != "open"


@pytest.mark.parametrize(
    ("subject", "text", "phrases"),
    [
        (
            "Lundi",
            "Le bus de 7 h 40 ne passe plus depuis une semaine, c'est insupportable, je vais leur faire une"
            " réclamation. Pourriez-vous prévenir le formateur que j'arriverai à 9 h 30 lundi ?",
            ("leur faire une réclamation",),
        ),
        (
            "Inscription",
            "Mon ancien organisme a annulé ma session sans me prévenir et ne répond plus : je vais faire une"
            " réclamation. Avez-vous encore une place en septembre pour le parcours barista ?",
            ("mon ancien organisme",),
        ),
        (
            "Remboursement",
            "My previous school cancelled my course and never refunded me, so I'm making a formal complaint. Do you"
            " run evening classes in October?",
            ("my previous school",),
        ),
    ],
)
def test_a_claim_the_writer_makes_to_someone_else_never_opens(
    vocabulary_alone: Recognizer, on_words: Recognizer, subject: str, text: str, phrases: tuple[str, ...]
) -> None:
    """A formal claim the writer addresses to a carrier, a platform or the organisation she left: the words
    of a formal claim, none against the organisation; never acknowledged as one (the director may see it)."""
    assert assess(without_phrases(*phrases), subject, text).outcome == "open", text
    assert assess(vocabulary_alone, subject, text).outcome != "open", text
    assert assess(on_words, subject, text).outcome != "open", text


def test_a_grievance_against_a_platform_said_in_passing_never_opens_on_words(on_words: Recognizer) -> None:
    """« leur site », « leur hotline »: the writer's anger is at the CPF platform she could not enrol on, and
    she asks the organisation for a place; with `open_on_words` too it is at most put before the director."""
    text = (
        "Impossible de valider mon dossier sur Mon Compte Formation, leur site affiche une erreur depuis lundi et"
        " leur hotline ne répond jamais, c'est scandaleux. Pouvez-vous me réserver une place en mars ?"
    )
    assert (
        assess(without_phrases("leur site", "leur hotline", open_on_words=True), "Inscription", text).outcome == "open"
    )
    assert assess(on_words, "Inscription", text).outcome != "open"


def test_zero_broken_is_nothing_broken(vocabulary_alone: Recognizer) -> None:
    """« zéro brûlure, zéro tasse cassée » says nothing went wrong, like « aucune »; a trainer's good news."""
    text = "Session terminée : zéro brûlure, zéro tasse cassée cette fois-ci, le rappel sécurité a porté ses fruits."
    document = shipped_document()
    document["negation"]["mots"] = [word for word in document["negation"]["mots"] if word != "zéro"]
    without_zero = parse_recognition(document, VOCABULARY)
    assert assess(without_zero, "Photos", text, reporter=True).outcome == "open"
    assert assess(vocabulary_alone, "Photos", text, reporter=True).outcome == "leave"
    hurt = "Une brûlure à la main ce matin au bec vapeur, et une tasse cassée : la stagiaire est soignée."
    assert assess(vocabulary_alone, "Atelier", hurt, reporter=True).outcome == "open"


def test_a_doctor_advising_against_is_no_threat_to_advise_others(recognizer: Recognizer) -> None:
    """« déconseiller » threatens the organisation's reputation when the writer advises others against it;
    « mon médecin me déconseille » is a health reason, and the request that follows is ordinary."""
    text = "Mon médecin me déconseille de porter des charges ce printemps. Pourrais-je suivre la session d'automne ?"
    assert assess(recognizer, "Session", text).outcome == "leave"
    threat = "Formateur absent deux jours sur trois : je déconseillerai votre centre à tout mon entourage."
    assert assess(recognizer, "Session", threat).outcome != "leave"


# --- families seen on blind set 10, checked on fresh sentences -------------------------------------

FAMILIES_10 = [
    # the discount or reduced rate agreed, and the full price charged
    (
        "Inscription",
        "Bonjour, j'ai été débité du plein tarif alors que j'avais droit au tarif demandeur d'emploi.",
        ("groupe:remise-non-appliquee",),
        False,
    ),
    (
        "weekend course",
        "The discount code was accepted at checkout but I was charged full price. Could you look into it?",
        ("groupe:remise-non-appliquee",),
        False,
    ),
    # an invoice that does not match the quote, or counts someone who did not attend
    (
        "Facture de mars",
        "Nous avons bien reçu votre facture de mars. Elle ne correspond pas au devis signé (950 € HT, et non"
        " 1 020 €). Merci de nous adresser une facture au bon montant.",
        ("groupe:facture-ecart",),
        False,
    ),
    (
        "Invoice",
        "Your invoice lists five trainees, but only four attended on the day. Could you send an amended one?",
        ("groupe:facture-ecart",),
        False,
    ),
    # paid for a course the website no longer offers
    (
        "Mes arrhes",
        "Votre site ne propose plus cette formation alors que j'ai payé l'acompte.",
        ("groupe:formation-disparue",),
        False,
    ),
    # what was promised at the end of the course never arrived, even looked for in the spam folder
    (
        "Fiches",
        "Les fiches techniques promises le dernier jour ne me sont jamais parvenues. Pouvez-vous me les renvoyer ?",
        ("jamais parvenu", "ne me sont jamais parvenus"),
        False,
    ),
    (
        "Documents",
        "Le support annoncé le dernier jour, je ne l'ai pas eu. J'ai vérifié mes spams.",
        ("groupe:verification-spams",),
        False,
    ),
    # the wrong date of birth on the certificate, the right one asked for
    (
        "Attestation",
        "L'attestation vient d'arriver, mais la date de naissance n'est pas la bonne. Pouvez-vous m'envoyer la"
        " bonne attestation ?",
        ("date de naissance n'est pas la bonne", "la bonne attestation"),
        False,
    ),
    # the pace too fast for the group, said by the client between two thanks
    (
        "Retour session",
        "Merci pour ces deux jours. Le rythme était beaucoup trop dense pour nos apprentis, ils ont eu du mal à tout"
        " retenir.",
        ("groupe:rythme-soutenu",),
        False,
    ),
    # the trainer late, who has told the group to start without them
    (
        "ce matin",
        "Rdv chez le dentiste, je serai là vers 9 h 45. J'ai prévenu le groupe, ils commencent sans moi par le quiz.",
        ("groupe:retard-formateur",),
        True,
    ),
]

ORDINARY_FAMILIES_10 = [
    # blind set 11-12's families: a former learner's dispute with his own employer, asking for advice
    (
        "Un conseil",
        "Depuis la formation je travaille dans une brûlerie, et on ne me paie plus mes heures supplémentaires depuis"
        " deux mois. Je ne sais pas vers qui me tourner : l'inspection du travail ? Auriez-vous un contact ?",
        ("heures supplémentaires", "vers qui me tourner", "inspection du travail"),
        False,
    ),
    # a regulator's or funder's general reminder of a rule to every organisation
    (
        "Rappel réglementaire",
        "Nous vous rappelons que les attestations doivent être remises sous quinze jours. Le non-respect de ces"
        " règles peut donner lieu à des contrôles et au remboursement des sommes perçues.",
        ("nous vous rappelons que les", "le non-respect de ces règles", "peut donner lieu à des contrôles"),
        False,
    ),
    # a request for oneself that accepts a refusal in advance
    (
        "Notre atelier",
        "Désolé pour ce changement de dernière minute, imprévu chez nous : pourrait-on décaler l'atelier ? Si ce"
        " n'est pas possible, pas de souci.",
        ("groupe:souplesse",),
        False,
    ),
    # paying in instalments is no repeated chasing
    (
        "Règlement",
        "Est-ce possible de payer en plusieurs fois, voire en trois fois ? La période est difficile pour moi.",
        ("groupe:paiement-echelonne",),
        False,
    ),
    # a grievance against the previous provider, told to choose a new one
    (
        "Partenariat",
        "Our previous provider kept cancelling at the last minute. A colleague recommended you: could we talk?",
        ("previous provider",),
        False,
    ),
    # a venue recalling its own terms
    (
        "Réservation",
        "Rappel de nos conditions : en cas d'annulation moins de 15 jours avant, 50 % reste dû ; tout retard dans"
        " la restitution des clés est facturé.",
        ("groupe:conditions-propres",),
        True,
    ),
    # maintenance announced, the room still usable
    (
        "Jeudi",
        "Pour information, le chauffage sera coupé jeudi matin ; la salle reste utilisable.",
        ("sera coupé", "reste utilisable"),
        True,
    ),
    # a cancellation for want of enrolments
    (
        "Planning juin",
        "La session annulée à Tours faute d'inscrits : je bloque mes deux jours sur Blois à la place.",
        ("décidée ensemble", "faute d'inscrits"),
        True,
    ),
    # a platform's deadline to validate, and its consequence
    (
        "Nouvelle demande",
        "Un titulaire a déposé une demande via Mon Compte Formation. Vous disposez de 2 jours ouvrés pour la"
        " valider. Sans réponse de votre part, elle sera automatiquement annulée.",
        ("vous disposez de", "sera automatiquement annulée"),
        False,
    ),
    # data entry is no « saisir » a mediator
    (
        "Dossier",
        "Merci de saisir le devis sur la plateforme au plus tard le 10, sinon le dossier ne pourra pas être traité.",
        ("groupe:saisie", "ne pourra pas être traitée"),
        False,
    ),
    # the travel trouble told afterwards, with no effect on the session
    (
        "Ma facture",
        "Voici ma facture. Quelle galère le train hier, retard au retour, heureusement c'était après la session !",
        ("groupe:apres-coup",),
        True,
    ),
]


@pytest.mark.parametrize(
    ("subject", "text", "phrases", "reporter"), FAMILIES_6_7 + FAMILIES_8 + FAMILIES_9 + FAMILIES_10
)
def test_claim_and_incident_families_of_blind_sets_6_to_10_are_seen(
    vocabulary_alone: Recognizer, subject: str, text: str, phrases: tuple[str, ...], reporter: bool
) -> None:
    """Quiet claims and incidents, often with no problem word (a double debit, a misspelt name, what the brochure
    promised, a discount not applied, an invoice against its quote, papers that never arrived, a trainer late who
    has warned the group): each family flags a mail it alone makes seen."""
    assert assess(without_phrases(*phrases), subject, text, reporter=reporter).outcome == "leave", text
    assert assess(vocabulary_alone, subject, text, reporter=reporter).outcome != "leave", text


@pytest.mark.parametrize(
    ("subject", "text", "phrases", "reporter"),
    ORDINARY_FAMILIES_6_7 + ORDINARY_FAMILIES_8 + ORDINARY_FAMILIES_9 + ORDINARY_FAMILIES_10,
)
def test_ordinary_families_of_blind_sets_6_to_10_are_left(
    vocabulary_alone: Recognizer, subject: str, text: str, phrases: tuple[str, ...], reporter: bool
) -> None:
    """Suppliers, payment and recall notices, bookkeeping, planned works, a venue's conditions, one's own
    lateness or rescheduling, a question asked out of curiosity or before enrolling or booking, a grievance against
    an hotel, an employer or the previous provider, a module about complaints, a law firm's pitch, instalments, a
    request that accepts a refusal, a platform's deadline, data entry, a trip's trouble told after the session."""
    assert assess(without_phrases(*phrases), subject, text, reporter=reporter).outcome != "leave", text
    assert assess(vocabulary_alone, subject, text, reporter=reporter).outcome == "leave", text
