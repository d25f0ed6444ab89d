"""Start-up of the short commands, side by side with the libraries they cannot do without (issue 13).

    python3 bench/startup.py [--runs N]

Measures, alternating so that a drift in the machine's load hits every command alike:
`python -c 'import sqlalchemy.orm'` (the floor of any command that reads the register),
`inboxbot --help`, `inboxbot cases show 2026-0001` and an idle `inboxbot run --once` (a mailbox
with nothing new, on a throw-away Dovecot and SMTP sink), and prints medians and the two ratios the
issue sets: `cases show` within 1.5x of the SQLAlchemy import, the idle cycle within 2x.
The package is compiled to bytecode first, as an installation is.
"""

# ruff: noqa: E501

from __future__ import annotations

import argparse
import compileall
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402
from mails import make_mail  # noqa: E402
from run import PYTHON, Bench, inboxbot, run_measured  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    compileall.compile_dir(ROOT / "inboxbot", quiet=1)
    with tempfile.TemporaryDirectory(prefix="inboxbot-startup-") as tmp:
        bench = Bench(Path(tmp))
        bench.start()
        try:
            account = bench.account("startup")
            config = bench.config("startup", account)
            for step in ("first meeting", "one claim"):
                if step == "one claim":
                    with bench.client(account) as client:
                        client.append(
                            "INBOX",
                            make_mail(
                                corpus.DIRECTOR.replace("alice", "lea"),
                                corpus.DIRECTOR,
                                "Réclamation",
                                "Attestation non reçue.",
                            ),
                        )
                if (done := run_measured(inboxbot(config, "run", "--once"), cwd=config.parent)).code != 0:
                    raise RuntimeError(done.stderr)
            commands = {
                "import sqlalchemy.orm": [PYTHON, "-c", "import sqlalchemy.orm"],
                "inboxbot --help": [PYTHON, "-m", "inboxbot", "--help"],
                "cases show": inboxbot(config, "cases", "show", "2026-0001"),
                "run --once (idle)": inboxbot(config, "run", "--once"),
            }
            seconds: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.runs):
                for name, command in commands.items():
                    measured = run_measured(command, cwd=config.parent)
                    if measured.code != 0:
                        raise RuntimeError(f"{name}: {measured.stderr[-2000:]}")
                    seconds[name].append(measured.seconds)
        finally:
            bench.stop()
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name, value in medians.items():
        print(f"{name:24} {value:.3f} s median of {args.runs} (min {min(seconds[name]):.3f})")
    floor = medians["import sqlalchemy.orm"]
    print(f"cases show / import sqlalchemy.orm   = {medians['cases show'] / floor:.2f} (target 1.5)")
    print(f"run --once idle / import sqlalchemy.orm = {medians['run --once (idle)'] / floor:.2f} (target 2.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
