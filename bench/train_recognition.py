"""Fit the learned recognition model (`rules/recognition/modele.tsv`) and measure it on unseen writers.

    pip install -e '.[train]'
    python bench/train_recognition.py                 # fit on every labelled set, write the table
    python bench/train_recognition.py --exclude blind11.toml --exclude blind12.toml
    python bench/train_recognition.py --unseen        # leave-one-writer-out figures (BENCHMARKS §8)

Why a script and scikit-learn: fitting is done once by whoever changes the labelled sets, not by the
product, which only reads the table (inboxbot/reading/learned.py redoes the arithmetic). scikit-learn is
the well-kept library for exactly this; it is an optional extra, not a dependency of `inboxbot run`.

`--unseen` answers the question the issue asks — how does recognition do on mail nobody tuned it on? —
for each blind set written by one writer: the model is fitted on every other set, and the vocabulary is
the one the product had just before that set was added (its first measure), taken from git history. So
neither half has seen the writer it is measured on.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inboxbot.reading.quotes import new_text  # noqa: E402
from inboxbot.reading.recognition import Recognizer, parse_recognition  # noqa: E402

DATA = ROOT / "tests" / "data" / "recognition"
VOCABULARY = ROOT / "rules" / "recognition" / "vocabulary.toml"
TABLE = ROOT / "rules" / "recognition" / "modele.tsv"
C = 30.0  # inverse regularisation: chosen on the unseen-writer figures, 10 and 30 about equal
MIN_DF = 2  # a feature seen in one mail only is that mail's, not the language's

# Each blind set and the merge that added it: the vocabulary at its first measure is the merge's first parent.
FIRST_MEASURES = {
    "blind2.toml": "1f65c34",
    "blind3.toml": "f626e2d",
    "blind4.toml": "692f8a1",
    "blind5.toml": "403a85b",
    "blind6.toml": "8419703",
    "blind7.toml": "75e38fd",
    "blind8.toml": "247d410",
    "blind9.toml": "1d4c975",
    "blind10.toml": "a5f8bc6",
}

HEADER = """\
# Modèle appris de reconnaissance des réclamations, difficultés et aléas.
#
# Chaque ligne : un mot (ramené à sa racine, sans accents : « rembours », « decu ») ou une paire de mots
# voisins (« toujour pas »), son idf (rareté dans les messages étiquetés) et son poids : positif, il
# rapproche un message d'une réclamation ou d'un aléa ; négatif, d'un message ordinaire. Les plus forts
# d'abord. Le modèle ne fait jamais ouvrir de dossier : il présente « à qualifier » un message que le
# vocabulaire laisse (probabilité >= [modele] seul dans vocabulary.toml), ou laisse un message que le
# vocabulaire soupçonne à peine (probabilité < [modele] avec_mots).
#
# Fichier produit par bench/train_recognition.py à partir des messages étiquetés des tests ; on peut
# corriger un poids à la main, ou désactiver le modèle (fichier = "" dans [modele]).
# Ensembles : {sets}
"""


def load_sets(exclude: Sequence[str]) -> dict[str, list[dict[str, object]]]:
    sets: dict[str, list[dict[str, object]]] = {}
    for path in sorted(DATA.glob("*.toml")):
        if path.name not in exclude:
            with path.open("rb") as stream:
                sets[path.name] = tomllib.load(stream)["mail"]
    return sets


def reader() -> Recognizer:
    """The vocabulary without its model: only its way of reading words is needed here."""
    with VOCABULARY.open("rb") as stream:
        return parse_recognition(tomllib.load(stream), VOCABULARY)


def mail_features(recognizer: Recognizer, mail: dict[str, object]) -> list[str]:
    return recognizer.features(str(mail["subject"]), new_text(str(mail["text"])))


def fit(documents: list[list[str]], labels: list[bool]) -> tuple[float, dict[str, tuple[float, float]]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(analyzer=lambda features: features, min_df=MIN_DF, sublinear_tf=True)
    matrix = vectorizer.fit_transform(documents)
    model = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=5000, random_state=0)
    model.fit(matrix, labels)
    names = vectorizer.get_feature_names_out()
    terms = {
        str(name): (float(idf), float(weight))
        for name, idf, weight in zip(names, vectorizer.idf_, model.coef_[0], strict=True)
    }
    return float(model.intercept_[0]), terms


def write_table(intercept: float, terms: dict[str, tuple[float, float]], sets: Sequence[str]) -> None:
    lines = [HEADER.format(sets=", ".join(sets)), f"constante\t{intercept:.6g}"]
    for name, (idf, weight) in sorted(terms.items(), key=lambda item: (-abs(item[1][1]), item[0])):
        lines.append(f"{name}\t{idf:.6g}\t{weight:.6g}")
    TABLE.write_text("\n".join(lines) + "\n", encoding="utf-8")


def historical_outcomes(commit: str, name: str) -> dict[str, str]:
    """Each mail's outcome under the vocabulary (and code) the product had just before `commit`."""
    program = (
        "import json,sys,tomllib;from pathlib import Path;"
        "from inboxbot.reading.quotes import new_text;"
        "from inboxbot.reading.recognition import load_recognition;"
        "r=load_recognition([Path(sys.argv[1])/'rules']);"
        "m=tomllib.load(open(sys.argv[2],'rb'))['mail'];"
        "print(json.dumps({e['id']:r.assess(e['subject'],new_text(e['text']),"
        "sender_is_reporter=e.get('reporter',False),spam=e.get('spam',False)).outcome for e in m}))"
    )
    with tempfile.TemporaryDirectory() as place:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", f"{commit}^1", "inboxbot", "rules"],
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(place, filter="data")
        done = subprocess.run(
            [sys.executable, "-c", program, place, str(DATA / name)],
            check=True,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": place, "PATH": "/usr/bin:/bin"},
        )
    outcomes: dict[str, str] = json.loads(done.stdout)
    return outcomes


def unseen(exclude: Sequence[str], alone: float, with_words: float, least: int) -> None:
    """Leave-one-writer-out: each blind set measured by a model fitted without it and the vocabulary of its
    first measure."""
    from inboxbot.reading.learned import Model

    recognizer = reader()
    sets = load_sets(exclude)
    features = {name: [mail_features(recognizer, mail) for mail in mails] for name, mails in sets.items()}
    # Ordinary mail the vocabulary of the day opened counts as put before her: shipped, it would be.
    print("| Set | Vocabulary then: recall / ordinary flagged | Model alone | Both, as shipped |")
    print("|---|---|---|---|")
    totals: dict[str, list[float]] = {"old": [], "old_o": [], "model": [], "model_o": [], "both": [], "both_o": []}
    for name, commit in FIRST_MEASURES.items():
        if name not in sets:
            continue
        documents = [doc for other in sets if other != name for doc in features[other]]
        labels = [mail["label"] != "ordinary" for other in sets if other != name for mail in sets[other]]
        intercept, terms = fit(documents, labels)
        model = Model(intercept, terms)
        old = historical_outcomes(commit, name)
        mails = sets[name]
        positives = [k for k, mail in enumerate(mails) if mail["label"] != "ordinary"]
        ordinary = [k for k, mail in enumerate(mails) if mail["label"] == "ordinary"]
        probability = [model.judge(doc).probability for doc in features[name]]
        outcome = [old[str(mail["id"])] for mail in mails]
        # the words the product counts (its one word pattern), for the model's `mots_min`
        words = [len(re.findall(r"[^\W_]+", new_text(str(mail["text"])))) for mail in mails]

        # As `Recognizer.assess` combines them (a candidate of the day counted as one on its score).
        both = [
            outcome[k] != "leave"
            if outcome[k] == "open" or words[k] < least
            else (outcome[k] == "candidate" and probability[k] >= with_words) or probability[k] >= alone
            for k in range(len(mails))
        ]

        row = {
            "old": sum(outcome[k] != "leave" for k in positives) / len(positives),
            "old_o": sum(outcome[k] != "leave" for k in ordinary) / len(ordinary),
            "model": sum(probability[k] >= alone and words[k] >= least for k in positives) / len(positives),
            "model_o": sum(probability[k] >= alone and words[k] >= least for k in ordinary) / len(ordinary),
            "both": sum(both[k] for k in positives) / len(positives),
            "both_o": sum(both[k] for k in ordinary) / len(ordinary),
        }
        for key, value in row.items():
            totals[key].append(value)
        print(
            f"| {name.removesuffix('.toml')} | {row['old']:.1%} / {row['old_o']:.1%} | {row['model']:.1%} /"
            f" {row['model_o']:.1%} | {row['both']:.1%} / {row['both_o']:.1%} |"
        )
    mean = {key: sum(values) / len(values) for key, values in totals.items()}
    print(
        f"| mean | {mean['old']:.1%} / {mean['old_o']:.1%} | {mean['model']:.1%} / {mean['model_o']:.1%} |"
        f" {mean['both']:.1%} / {mean['both_o']:.1%} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exclude", action="append", default=[], help="a labelled set to leave out (not yet measured)")
    parser.add_argument("--unseen", action="store_true", help="print the leave-one-writer-out figures")
    parser.add_argument("--alone", type=float, default=0.4, help="[modele] seul")
    parser.add_argument("--with-words", type=float, default=0.3, help="[modele] avec_mots")
    parser.add_argument("--least", type=int, default=25, help="[modele] mots_min")
    arguments = parser.parse_args()
    if arguments.unseen:
        unseen(arguments.exclude, arguments.alone, arguments.with_words, arguments.least)
        return 0
    recognizer = reader()
    sets = load_sets(arguments.exclude)
    documents = [mail_features(recognizer, mail) for mails in sets.values() for mail in mails]
    labels = [mail["label"] != "ordinary" for mails in sets.values() for mail in mails]
    intercept, terms = fit(documents, labels)
    write_table(intercept, terms, [name.removesuffix(".toml") for name in sets])
    print(f"{TABLE.relative_to(ROOT)}: {len(terms)} features from {len(documents)} mails")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
