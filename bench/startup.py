"""Start-up of the short commands, side by side with the libraries they cannot do without (issue 13).

    python3 bench/startup.py [--runs N] [--before DIR]

Measures, alternating so that a drift in the machine's load hits every command alike:
`python -c 'import sqlalchemy.orm'` (the floor of any command that reads the register),
`inboxbot --help`, `inboxbot cases show 2026-0001` and an idle `inboxbot run --once` (a mailbox
with nothing new, on a throw-away Dovecot and SMTP sink) on a dedicated mailbox and on a shared one
(the default, which also reads the recognition vocabulary), and prints medians and the two ratios
the issue sets: `cases show` within 1.5x of the SQLAlchemy import, the idle cycle within 2x.
`--before DIR` (earlier code, e.g. `mkdir DIR && git archive COMMIT | tar -x -C DIR`) measures each
command of that code too, in turn with this one's: a before/after at the same load.
The package is compiled to bytecode first, as an installation is.
"""

# ruff: noqa: E501

from __future__ import annotations

import argparse
import compileall
import os
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
    parser.add_argument("--before", type=Path, help="a source tree of earlier code, measured in turn with this one")
    args = parser.parse_args(argv)
    trees = {"": ROOT} | ({" (before)": args.before.resolve()} if args.before else {})
    for tree in trees.values():
        compileall.compile_dir(tree / "inboxbot", quiet=1)
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
                done = run_measured(inboxbot(config, "run", "--once"), cwd=config.parent, env=on_path(ROOT))
                if done.code != 0:
                    raise RuntimeError(done.stderr)
            shared = config.with_name("shared.toml")
            shared.write_text(config.read_text().replace('mode = "dedicated"', 'mode = "shared"'))
            ours = {
                "inboxbot --help": [PYTHON, "-m", "inboxbot", "--help"],
                "cases show": inboxbot(config, "cases", "show", "2026-0001"),
                "run --once (idle)": inboxbot(config, "run", "--once"),
                "run --once (idle, shared)": inboxbot(shared, "run", "--once"),
            }
            commands = {"import sqlalchemy.orm": ("", [PYTHON, "-c", "import sqlalchemy.orm"])}
            for name, command in ours.items():
                commands |= {f"{name}{suffix}": (suffix, command) for suffix in trees}
            seconds: dict[str, list[float]] = {name: [] for name in commands}
            for tree in trees.values():  # each tree's first start compiles and marks its templates
                run_measured(ours["run --once (idle, shared)"], cwd=config.parent, env=on_path(tree))
            for _ in range(args.runs):
                for name, (suffix, command) in commands.items():
                    measured = run_measured(command, cwd=config.parent, env=on_path(trees[suffix]))
                    if measured.code != 0:
                        raise RuntimeError(f"{name}: {measured.stderr[-2000:]}")
                    seconds[name].append(measured.seconds)
        finally:
            bench.stop()
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name, value in medians.items():
        print(f"{name:36} {value:.3f} s median of {args.runs} (min {min(seconds[name]):.3f})")
    floor = medians["import sqlalchemy.orm"]
    for suffix in trees:
        print(
            f"cases show{suffix} / import sqlalchemy.orm   = {medians[f'cases show{suffix}'] / floor:.2f} (target 1.5)"
        )
        for idle in ("run --once (idle)", "run --once (idle, shared)"):
            print(f"{idle}{suffix} / import sqlalchemy.orm = {medians[idle + suffix] / floor:.2f} (target 2.0)")
    return 0


def on_path(tree: Path) -> dict[str, str]:
    """The environment that runs the code of `tree`: first on the module path, as the tests put a worktree."""
    return {**os.environ, "PYTHONPATH": str(tree)}


if __name__ == "__main__":
    raise SystemExit(main())
