"""The learned model beside the vocabulary: its arithmetic, its table, and what it may and may not decide."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import pytest

from inboxbot.domain.rules import InvalidEntry
from inboxbot.reading.learned import Model, features, parse_model
from inboxbot.reading.recognition import RecognitionError, Recognizer, load_recognition, parse_recognition
from tests.recognition_eval import RULES

VOCABULARY = RULES / "recognition" / "vocabulary.toml"
TABLE = RULES / "recognition" / "modele.tsv"

# Quiet claims of at least 25 words, written for these tests (no labelled set holds them): a promise
# not kept, said without any problem word. The vocabulary alone leaves them; the model must not.
QUIET_CLAIMS = [
    (
        "Suite à notre échange",
        "Bonjour Madame, vous m'aviez indiqué au téléphone le 2 mars que le solde me serait reversé sous quinze"
        " jours. Nous sommes le 20 avril et je ne vois rien sur mon compte. Pouvez-vous regarder ? Merci, Inès",
    ),
    (
        "Horaires",
        "Bonjour, les horaires de la session ont changé deux fois cette semaine et je l'ai appris le matin même."
        " Ce n'est pas très pratique pour faire garder mes enfants. Bonne journée à vous, Nadia",
    ),
]


@pytest.fixture(scope="module")
def shipped() -> Recognizer:
    return load_recognition([RULES])


def certain(intercept: float) -> Recognizer:
    """The shipped vocabulary with a model made sure of its answer: +50, a claim; -50, ordinary mail."""
    recognizer = load_recognition([RULES])
    assert recognizer.model is not None
    recognizer.model = Model(intercept=intercept, terms=recognizer.model.terms)
    return recognizer


@pytest.fixture(scope="module")
def vocabulary_alone() -> Recognizer:
    with VOCABULARY.open("rb") as stream:
        return parse_recognition(tomllib.load(stream), VOCABULARY)


def test_features_are_stems_and_neighbouring_pairs_within_one_field() -> None:
    assert features(["retard"], ["toujour", "pas", "", "recu"]) == [
        "retard",
        "toujour",
        "pas",
        "toujour pas",
        "recu",  # a word too long to be one breaks the pair: no « pas recu »
    ]


def test_the_probability_is_tf_idf_then_logistic_as_fitted() -> None:
    """What scikit-learn's TfidfVectorizer (sublinear tf, L2 norm) and LogisticRegression compute."""
    model = Model(intercept=-1.0, terms={"rembours": (3.0, 2.0), "merci": (2.0, -1.0), "je": (1.0, 0.5)})
    opinion = model.judge(["rembours", "rembours", "merci", "inconnu"])
    first, second = (1 + math.log(2)) * 3.0, 2.0
    norm = math.hypot(first, second)
    total = -1.0 + first / norm * 2.0 + second / norm * -1.0
    assert opinion.probability == pytest.approx(1 / (1 + math.exp(-total)))
    assert [name for name, _ in opinion.strongest] == ["rembours"]  # positive and telling only
    assert model.judge([]).probability == pytest.approx(1 / (1 + math.exp(1.0)))  # the intercept alone


def test_a_hand_edited_weight_cannot_overflow() -> None:
    model = Model(intercept=0.0, terms={"a": (5.0, 1e308), "b": (5.0, -1e308)})
    assert model.judge(["a"]).probability == 1.0
    assert model.judge(["b"]).probability == 0.0


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("", "line 1", "empty model"),
        ("# only a comment\n", "line 1", "empty model"),
        ("rembours\t3\t2\n", "line 1", "constante"),
        ("constante\t-1\nrembours\t3\n", "line 2", "feature<TAB>idf<TAB>weight"),
        ("constante\t-1\nrembours\ttrois\t2\n", "line 2", "expected a number"),
        ("constante\tnan\n", "line 1", "finite"),
        ("constante\t-1\nrembours\t0\t2\n", "line 2", "idf must be positive"),
        ("constante\t-1\nrembours\t3\t2\n\nrembours\t3\t1\n", "line 4", "duplicate"),
    ],
)
def test_a_broken_table_names_its_line(text: str, where: str, reason: str) -> None:
    with pytest.raises(InvalidEntry) as raised:
        parse_model(text)
    assert raised.value.key == where
    assert reason in raised.value.reason


def test_the_shipped_table_is_read_with_the_vocabulary(shipped: Recognizer) -> None:
    assert shipped.model is not None
    assert len(shipped.model.terms) > 10_000
    assert shipped.settings.model_alone == 0.4 and shipped.settings.model_with_words == 0.3


@pytest.mark.parametrize(("subject", "text"), QUIET_CLAIMS)
def test_a_quiet_claim_the_vocabulary_leaves_is_put_before_her(
    shipped: Recognizer, vocabulary_alone: Recognizer, subject: str, text: str
) -> None:
    assert vocabulary_alone.assess(subject, text, sender_is_reporter=False, spam=False).outcome == "leave"
    result = shipped.assess(subject, text, sender_is_reporter=False, spam=False)
    assert result.outcome == "candidate"
    assert any(note.startswith("modèle appris : ressemble à une réclamation") for note in result.notes)
    assert result.reasons, "the digest line must say which words made it a candidate"
    assert all(reason in " ".join(text.split()) or reason in subject for reason in result.reasons)
    assert result.excerpt


def test_the_model_never_opens_nor_acknowledges() -> None:
    """However sure the model is, only the vocabulary's sure signals open; spam is never opened either."""
    subject, text = QUIET_CLAIMS[0]
    sure = certain(50.0)
    assert sure.assess(subject, text, sender_is_reporter=False, spam=False).outcome == "candidate"
    assert sure.assess(subject, text, sender_is_reporter=False, spam=True).outcome == "candidate"


def test_the_model_leaves_what_the_vocabulary_only_half_suspects(
    shipped: Recognizer, vocabulary_alone: Recognizer
) -> None:
    """A candidate on its score alone is left when the model finds it unlikely; a clear grievance is not."""
    text = (
        "Bonjour, sur votre site la formation torréfaction était annoncée avec une visite de la brûlerie. Nous"
        " sommes restés toute la semaine en salle, la visite n'a jamais été évoquée. Était-ce prévu ? Hugo Martin"
    )
    alone = vocabulary_alone.assess("Stage de juin", text, sender_is_reporter=False, spam=False)
    assert alone.outcome == "candidate" and alone.score < shipped.settings.open_threshold
    assert shipped.assess("Stage de juin", text, sender_is_reporter=False, spam=False).outcome == "candidate"
    recognizer = certain(-50.0)
    doubted = recognizer.assess("Stage de juin", text, sender_is_reporter=False, spam=False)
    assert doubted.outcome == "leave"
    assert any(note.startswith("modèle appris : ressemble à un message ordinaire") for note in doubted.notes)
    formal = (
        "Je souhaite formuler une réclamation : mon attestation n'est jamais arrivée malgré trois relances depuis"
        " la fin de la session en mars, et mon employeur me la demande pour mon dossier. Merci de me répondre."
    )
    assert recognizer.assess("Attestation", formal, sender_is_reporter=False, spam=False).outcome == "open"


def test_a_short_text_is_left_to_the_vocabulary() -> None:
    """Under `mots_min` words, too few for word statistics, the model abstains either way."""
    recognizer = certain(50.0)
    short = "Je suis très satisfaite de cette formation, merci."
    assert recognizer.assess("Formation", short, sender_is_reporter=False, spam=False).outcome == "leave"


def test_no_model_when_the_vocabulary_says_so(tmp_path: Path) -> None:
    (tmp_path / "recognition").mkdir()
    text = VOCABULARY.read_text(encoding="utf-8").replace('fichier = "modele.tsv"', 'fichier = ""')
    (tmp_path / "recognition" / "vocabulary.toml").write_text(text, encoding="utf-8")
    recognizer = load_recognition([RULES, tmp_path])
    assert recognizer.model is None
    subject, quiet = QUIET_CLAIMS[0]
    assert recognizer.assess(subject, quiet, sender_is_reporter=False, spam=False).outcome == "leave"


def test_a_copied_vocabulary_keeps_the_shipped_table_and_its_own_wins(tmp_path: Path) -> None:
    (tmp_path / "recognition").mkdir()
    (tmp_path / "recognition" / "vocabulary.toml").write_text(VOCABULARY.read_text(encoding="utf-8"), "utf-8")
    copied = load_recognition([RULES, tmp_path])
    assert copied.model is not None and len(copied.model.terms) > 10_000
    (tmp_path / "recognition" / "modele.tsv").write_text("constante\t-3\nrembours\t2\t1\n", encoding="utf-8")
    mine = load_recognition([RULES, tmp_path])
    assert mine.model == Model(-3.0, {"rembours": (2.0, 1.0)})


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        ("seul = 0.4", "modele.seul", "between 0 and 1"),
        ("avec_mots = 0.3", "modele.avec_mots", "must not exceed modele.seul"),
        ('fichier = "modele.tsv"', "modele.fichier", "beside the vocabulary"),
        ("mots_min = 25", "modele.mots_min", "whole number"),
    ],
)
def test_a_bad_model_setting_names_its_key(tmp_path: Path, change: str, key: str, reason: str) -> None:
    bad = {
        "seul = 0.4": "seul = 1.5",
        "avec_mots = 0.3": "avec_mots = 0.9",
        'fichier = "modele.tsv"': 'fichier = "../modele.tsv"',
        "mots_min = 25": 'mots_min = "vingt"',
    }[change]
    path = tmp_path / "vocabulary.toml"
    path.write_text(VOCABULARY.read_text(encoding="utf-8").replace(change, bad), encoding="utf-8")
    with pytest.raises(RecognitionError) as raised:
        load_recognition(path)
    assert raised.value.key == key
    assert reason in raised.value.reason


def test_a_missing_or_broken_table_stops_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.toml"
    path.write_text(VOCABULARY.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(RecognitionError) as raised:
        load_recognition(path)
    assert raised.value.key == "modele.fichier"
    (tmp_path / "modele.tsv").write_text("constante\t-1\nrembours\t3\n", encoding="utf-8")
    with pytest.raises(RecognitionError) as raised:
        load_recognition(path)
    assert (raised.value.path, raised.value.key) == (tmp_path / "modele.tsv", "line 2")


def test_the_shipped_table_is_what_its_header_says() -> None:
    """The table names the labelled sets it was fitted on: each of them exists in the tests' data."""
    header = next(line for line in TABLE.read_text(encoding="utf-8").splitlines() if line.startswith("# Ensembles"))
    names = [name.strip() for name in header.split(":", 1)[1].split(",")]
    data = RULES.parent / "tests" / "data" / "recognition"
    assert names and all((data / f"{name}.toml").is_file() for name in names)


def training_script() -> Any:
    """bench/train_recognition.py, the one way the table is fitted (it needs the optional extra 'train')."""
    pytest.importorskip("sklearn", reason="fitting needs the optional extra 'train'")
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_recognition", RULES.parent / "bench" / "train_recognition.py")
    assert spec is not None and spec.loader is not None
    training = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(training)
    return training


def test_fitted_without_two_writers_the_model_still_finds_their_claims() -> None:
    """What the model is for: mail from writers it never saw. Fitted without the last two blind sets, alone
    (no vocabulary), it must still reach the targets on them; features or fitting gone wrong would not."""
    training = training_script()
    recognizer = training.reader()
    held = ("blind13.toml", "blind14.toml")
    sets = training.load_sets([])
    fitted = [(name, mail) for name, mails in sets.items() if name not in held for mail in mails]
    model = Model(
        *training.fit(
            [training.mail_features(recognizer, mail) for _, mail in fitted],
            [mail["label"] != "ordinary" for _, mail in fitted],
        )
    )
    for name in held:
        alone = recognizer.settings.model_alone
        flagged = [
            (mail["label"] != "ordinary", model.judge(training.mail_features(recognizer, mail)).probability >= alone)
            for mail in sets[name]
        ]
        positives = [seen for positive, seen in flagged if positive]
        ordinary = [seen for positive, seen in flagged if not positive]
        assert sum(positives) / len(positives) >= 0.95, name
        assert sum(ordinary) / len(ordinary) <= 0.20, name


def test_the_shipped_table_is_what_fitting_the_labelled_sets_gives() -> None:
    """A labelled set added or changed without refitting would leave the product on an older model."""
    training = training_script()
    recognizer = training.reader()
    sets = training.load_sets([])
    documents = [training.mail_features(recognizer, mail) for mails in sets.values() for mail in mails]
    labels = [mail["label"] != "ordinary" for mails in sets.values() for mail in mails]
    intercept, terms = training.fit(documents, labels)
    shipped = parse_model(TABLE.read_text(encoding="utf-8"))
    assert shipped.terms.keys() == terms.keys(), "refit: python bench/train_recognition.py"
    assert shipped.intercept == pytest.approx(intercept, rel=1e-4, abs=1e-5)
    for name, (idf, weight) in terms.items():
        assert shipped.terms[name] == pytest.approx((idf, weight), rel=1e-4, abs=1e-5), name
