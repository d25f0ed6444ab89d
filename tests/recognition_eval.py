"""The recognition evaluation set and its figures, for the tests and for BENCHMARKS.md.

Run `PYTHONPATH=. python3 tests/recognition_eval.py [-v] [FILE.toml ...]` to print recall, what
ordinary mail got, the confusion table and the mean cost of `assess` per mail: for each file given,
else for the tuning set, each held-out file and the blind file apart.
The held-out files (`heldout*.toml`) were each written after the vocabulary was tuned and
must not be tuned on; the blind file (`blind.toml`) was written by someone who never saw the
vocabulary. Their figures say how the recogniser does on mail it was not fitted to.
"""

from __future__ import annotations

import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from inboxbot.reading.quotes import new_text
from inboxbot.reading.recognition import Assessment, Recognizer, load_recognition

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "recognition"
RULES = ROOT / "rules"
TUNING = ("claims.toml", "incidents.toml", "ordinary.toml")
HELD_OUT = (
    "heldout.toml",
    "heldout2.toml",
    "heldout3.toml",
    "heldout4.toml",
    "heldout5.toml",
    "heldout6.toml",
)
BLIND = "blind.toml"
BLIND2 = "blind2.toml"  # measured once before tuning (BENCHMARKS §8), then tuned on: no longer blind
BLIND3 = "blind3.toml"  # measured once after the tuning on blind2 (BENCHMARKS §8), then tuned on: no longer blind
BLIND4 = "blind4.toml"  # measured once after the tuning on blind3 (BENCHMARKS §8), then tuned on: no longer blind
BLIND5 = "blind5.toml"  # measured once after the rule « addressed » (BENCHMARKS §8), then tuned on: no longer blind
BLIND6 = "blind6.toml"  # measured twice as shipped and on words (BENCHMARKS §8), then tuned on: no longer blind
BLIND7 = "blind7.toml"  # measured twice as shipped and on words (BENCHMARKS §8), then tuned on: no longer blind
BLIND8 = "blind8.toml"  # measured twice (before and after the tuning on sets 6-7), then tuned on: no longer blind
BLIND9 = "blind9.toml"  # measured twice (before and after the tuning on set 8), then tuned on: no longer blind
BLIND10 = "blind10.toml"  # measured once after the tuning on blind9 (BENCHMARKS §8): recall 84.6 %; tuned on since
BLIND11 = "blind11.toml"  # measured once with the learned model (BENCHMARKS §8), then fitted and tuned on
BLIND12 = "blind12.toml"  # measured once with the learned model (BENCHMARKS §8), then fitted and tuned on
BLIND13 = "blind13.toml"  # measured once with the model fitted up to blind12 (BENCHMARKS §8), then fitted on
BLIND14 = "blind14.toml"  # measured once with the model fitted up to blind12 (BENCHMARKS §8), then fitted on
LABELS = ("claim", "incident", "ordinary")


@dataclass(frozen=True)
class Mail:
    id: str
    label: str
    sender: str
    subject: str
    text: str
    reason: str
    reporter: bool
    spam: bool
    file: str

    def assess(self, recognizer: Recognizer) -> Assessment:
        """As the pipeline reads it: the subject and the mail's own new text (no quoted history nor
        signature; a forward's inner mail, which the pipeline also reads apart, is not read here)."""
        return recognizer.assess(self.subject, new_text(self.text), sender_is_reporter=self.reporter, spam=self.spam)


def load_mails(*, held_out: bool | None = None, files: tuple[str, ...] | None = None) -> list[Mail]:
    """Mails of the set: `files` (names in the data directory), else the held-out files (`held_out`
    True), the tuning files (False) or every file (None)."""
    if files is None:
        files = HELD_OUT if held_out else TUNING if held_out is False else tuple(p.name for p in DATA.glob("*.toml"))
    return load_file_mails(*(DATA / name for name in sorted(files) if (DATA / name).exists()))


def load_file_mails(*paths: Path) -> list[Mail]:
    """The mails of these files, in order."""
    mails: list[Mail] = []
    for path in paths:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
        for entry in document["mail"]:
            mails.append(
                Mail(
                    id=entry["id"],
                    label=entry["label"],
                    sender=entry["from"],
                    subject=entry["subject"],
                    text=entry["text"],
                    reason=entry["reason"],
                    reporter=entry.get("reporter", False),
                    spam=entry.get("spam", False),
                    file=path.name,
                )
            )
    return mails


@dataclass(frozen=True)
class Figures:
    total: int
    positives: int  # claims and incidents
    seen: int  # positives opened or put before the director
    opened_positives: int
    ordinary: int
    ordinary_open: int
    ordinary_candidate: int
    confusion: Counter[tuple[str, str]]
    missed: tuple[str, ...]
    false_alarms: tuple[str, ...]

    @property
    def recall(self) -> float:
        return self.seen / self.positives if self.positives else 1.0

    @property
    def precision(self) -> float:
        """Of the mails flagged (opened or candidate), the share that are claims or incidents."""
        flagged = self.seen + self.ordinary_open + self.ordinary_candidate
        return self.seen / flagged if flagged else 1.0

    @property
    def candidate_rate(self) -> float:
        return self.ordinary_candidate / self.ordinary if self.ordinary else 0.0


def measure(recognizer: Recognizer, mails: list[Mail]) -> Figures:
    confusion: Counter[tuple[str, str]] = Counter()
    missed: list[str] = []
    false_alarms: list[str] = []
    for mail in mails:
        outcome = mail.assess(recognizer).outcome
        confusion[(mail.label, outcome)] += 1
        if mail.label != "ordinary" and outcome == "leave":
            missed.append(mail.id)
        if mail.label == "ordinary" and outcome != "leave":
            false_alarms.append(f"{mail.id}:{outcome}")
    positives = sum(1 for mail in mails if mail.label != "ordinary")
    ordinary = len(mails) - positives
    return Figures(
        total=len(mails),
        positives=positives,
        seen=positives - len(missed),
        opened_positives=sum(
            n for (label, outcome), n in confusion.items() if label != "ordinary" and outcome == "open"
        ),
        ordinary=ordinary,
        ordinary_open=confusion[("ordinary", "open")],
        ordinary_candidate=confusion[("ordinary", "candidate")],
        confusion=confusion,
        missed=tuple(missed),
        false_alarms=tuple(false_alarms),
    )


def cost_per_mail(recognizer: Recognizer, mails: list[Mail], rounds: int = 20) -> float:
    """Mean microseconds of one `assess` over the set (best of `rounds` passes, caches warm)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for mail in mails:
            mail.assess(recognizer)
        best = min(best, time.perf_counter() - start)
    return best / len(mails) * 1e6


def report(title: str, figures: Figures) -> str:
    lines = [
        f"## {title}: {figures.total} mails ({figures.positives} claims/incidents, {figures.ordinary} ordinary)",
        f"recall (opened or put before her): {figures.seen}/{figures.positives} = {figures.recall:.1%}"
        f" (opened: {figures.opened_positives})",
        f"ordinary opened: {figures.ordinary_open}; ordinary put before her: "
        f"{figures.ordinary_candidate}/{figures.ordinary} = {figures.candidate_rate:.1%}",
        f"precision of what is flagged: {figures.precision:.1%}",
        "",
        "| label \\ outcome | open | candidate | leave |",
        "|---|---|---|---|",
    ]
    for label in LABELS:
        row = [str(figures.confusion[(label, outcome)]) for outcome in ("open", "candidate", "leave")]
        lines.append(f"| {label} | {' | '.join(row)} |")
    lines.append(f"missed: {', '.join(figures.missed) or 'none'}")
    lines.append(f"ordinary flagged: {', '.join(figures.false_alarms) or 'none'}")
    return "\n".join(lines)


def main() -> int:
    recognizer = load_recognition([RULES])
    verbose = "-v" in sys.argv
    paths = [Path(arg) for arg in sys.argv[1:] if arg != "-v"]
    parts: list[tuple[str, list[Mail]]]
    if paths:
        parts = [(str(path), load_file_mails(path)) for path in paths]
    else:
        parts = [("tuning set", load_mails(held_out=False))]
        parts += [(f"held-out {name}", load_mails(files=(name,))) for name in HELD_OUT]
        parts.append((f"blind {BLIND}", load_mails(files=(BLIND,))))
        parts.append((f"second blind set {BLIND2}, tuned on since its first measure", load_mails(files=(BLIND2,))))
        parts.append((f"third blind set {BLIND3}, tuned on since its first measure", load_mails(files=(BLIND3,))))
        parts.append((f"fourth blind set {BLIND4}, tuned on since its first measure", load_mails(files=(BLIND4,))))
        parts.append((f"fifth blind set {BLIND5}, looked at since its first measure", load_mails(files=(BLIND5,))))
        parts.append((f"sixth blind set {BLIND6}, tuned on since its first measure", load_mails(files=(BLIND6,))))
        parts.append((f"seventh blind set {BLIND7}, tuned on since its first measure", load_mails(files=(BLIND7,))))
        parts.append((f"eighth blind set {BLIND8}, tuned on since its first measures", load_mails(files=(BLIND8,))))
        parts.append((f"ninth blind set {BLIND9}, tuned on since its first measures", load_mails(files=(BLIND9,))))
        parts.append((f"tenth blind set {BLIND10}, tuned on since its first measure", load_mails(files=(BLIND10,))))
        parts.append((f"eleventh blind set {BLIND11}, fitted on since its one measure", load_mails(files=(BLIND11,))))
        parts.append((f"twelfth blind set {BLIND12}, fitted on since its one measure", load_mails(files=(BLIND12,))))
        parts.append((f"thirteenth blind set {BLIND13}, fitted on since its one measure", load_mails(files=(BLIND13,))))
        parts.append((f"fourteenth blind set {BLIND14}, fitted on since its one measure", load_mails(files=(BLIND14,))))
    for title, mails in parts:
        if not mails:
            continue
        print(report(title, measure(recognizer, mails)))
        if verbose:
            for mail in mails:
                result = mail.assess(recognizer)
                print(
                    f"  {mail.id} {mail.label:8} -> {result.outcome:9} {result.kind:11} {result.score:6.2f} {result.reasons}"
                )
        print()
    everything = [mail for _, mails in parts for mail in mails]
    print(f"assess(): {cost_per_mail(recognizer, everything):.1f} µs per mail (mean over {len(everything)} mails)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
