"""Run inboxbot and SIGKILL it at a chosen point: the crash tests' launcher (test-only, no product hook).

    python tests/crashpoint.py --kill-at after:inboxbot.adapters.archive:Archive.store:3 -- --config X run --once

A kill point is `WHEN:MODULE:QUALNAME:N`: wrap the function (or method) QUALNAME of MODULE and
send SIGKILL to this very process `before` or `after` its Nth call (N counted from 1, per point).
Coroutine functions are awaited before an `after` kill, so `after:aiosmtplib:SMTP.sendmail:1` kills
once the SMTP server has answered 250 and before anything recorded it. The process exits with the
inboxbot command's own status when no point was reached.

SIGKILL is the point: no `finally`, no atexit, no flushing — the same as a power cut for everything
above the kernel (the kernel still closes sockets and releases file locks).

Starting Python and importing inboxbot costs over a second here, and the crash campaign runs dozens
of processes, so `Zygote` keeps one process with everything imported and forks a fresh child per
run (`--serve`, one JSON request a line on stdin). The zygote has no thread, no connection and no
open database when it forks, so every child starts as clean as a new program.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

WHEN = ("before", "after")


@dataclass(frozen=True)
class KillPoint:
    when: str
    module: str
    qualname: str
    nth: int

    @classmethod
    def parse(cls, spec: str) -> KillPoint:
        try:
            when, module, qualname, nth = spec.split(":")
            point = cls(when, module, qualname, int(nth))
        except ValueError:
            raise ValueError(f"kill point {spec!r}: expected WHEN:MODULE:QUALNAME:N") from None
        if point.when not in WHEN or point.nth < 1:
            raise ValueError(f"kill point {spec!r}: WHEN is before or after, N counts from 1")
        return point

    def __str__(self) -> str:
        return f"{self.when}:{self.module}:{self.qualname}:{self.nth}"


def _die() -> None:
    # Flush nothing on purpose; stderr is unbuffered enough for the log line above to be there.
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: KillPoint) -> None:
    """Replace the function named by `point` by one that kills this process at the chosen call."""
    owner: Any = importlib.import_module(point.module)
    *path, name = point.qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = inspect.getattr_static(owner, name)
    is_static = isinstance(original, staticmethod)
    function = original.__func__ if isinstance(original, (staticmethod, classmethod)) else original
    if not callable(function):
        raise ValueError(f"kill point {point}: {point.qualname} is not callable")
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        raise ValueError(f"kill point {point}: generators are not supported, wrap what they call")
    calls = 0

    def arrive() -> bool:
        nonlocal calls
        calls += 1
        return calls == point.nth

    def announce() -> None:
        sys.stderr.write(f"crashpoint: killed at {point}\n")
        sys.stderr.flush()

    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            hit = arrive()
            if hit and point.when == "before":
                announce()
                _die()
            result = await function(*args, **kwargs)
            if hit:
                announce()
                _die()
            return result

        wrapper = async_wrapper
    else:

        @functools.wraps(function)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            hit = arrive()
            if hit and point.when == "before":
                announce()
                _die()
            result = function(*args, **kwargs)
            if hit:
                announce()
                _die()
            return result

        wrapper = sync_wrapper
    setattr(owner, name, staticmethod(wrapper) if is_static else wrapper)


def run(kill_at: Sequence[str], argv: Sequence[str]) -> int:
    """Install the kill points, then run the inboxbot command line in this process."""
    for spec in kill_at:
        install(KillPoint.parse(spec))
    from inboxbot.cli.main import main

    return main(list(argv))


# -- the zygote --------------------------------------------------------------------------------

PRELOAD = (
    "inboxbot.cli.main",
    "inboxbot.procedure.pipeline",
    "inboxbot.cli.daemon",
    "inboxbot.exports.register",
    "inboxbot.store.repository",
    "aiosmtplib",
    "imapclient",
    "sqlalchemy.orm",
    "alembic.command",
)


def _child(request: dict[str, Any]) -> None:
    """In the forked child: output to the run's log, kill points in place, run, exit without clean-up."""
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdin.close()
    code = 1
    try:
        code = run(request.get("kill_at", []), request["argv"])
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported in the log, as the real program would
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _warm(config: Path) -> None:
    """Build the program once here, so each child inherits warm caches (Jinja's, Alembic's):
    measured 0.23 s of start-up per child without, 0.10 s with. Nothing stays open."""
    from inboxbot.bootstrap import build
    from inboxbot.config import load

    build(load(config)).close()


def serve(requests: IO[str], replies: IO[str]) -> None:
    for module in PRELOAD:
        importlib.import_module(module)
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        if "warm" in request:
            _warm(Path(request["warm"]))
            replies.write(json.dumps({"warm": True}) + "\n")
            replies.flush()
            continue
        pid = os.fork()
        if pid == 0:
            _child(request)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            reply = {"signal": os.WTERMSIG(status), "code": None}
        else:
            reply = {"signal": None, "code": os.WEXITSTATUS(status)}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


@dataclass(frozen=True)
class Outcome:
    pid: int
    killed: bool  # by SIGKILL, i.e. a kill point was reached
    code: int | None  # the exit status when it was not killed
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Zygote:
    """A process with inboxbot imported that runs each command in a fresh fork of itself."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self._reply().get("ready"), "the crashpoint zygote did not start"

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the crashpoint zygote died (status {self.process.poll()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def warm(self, config: Path) -> None:
        """Build inboxbot once in the zygote with `config`, to make every later child start faster."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"warm": str(config)}) + "\n")
        self.process.stdin.flush()
        assert self._reply().get("warm")

    def run(self, argv: Sequence[str], log: Path, kill_at: Sequence[str] = (), timeout: float = 120) -> Outcome:
        """Run `inboxbot ARGV` in a new child; wait for it to exit or be killed."""
        for spec in kill_at:
            KillPoint.parse(spec)  # refuse a typo here, not in the child
        assert self.process.stdin is not None
        request = {"argv": list(argv), "kill_at": list(kill_at), "log": str(log)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        pid = int(self._reply()["pid"])
        expired = threading.Event()

        def expire() -> None:  # a hung child must not hang the test
            expired.set()
            os.kill(pid, signal.SIGKILL)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            reply = self._reply()
        finally:
            timer.cancel()
        if expired.is_set():
            raise RuntimeError(f"child {pid} still running after {timeout} s:\n{log.read_text(errors='replace')}")
        if reply["signal"] not in (None, signal.SIGKILL):
            raise RuntimeError(f"child {pid} died of signal {reply['signal']}:\n{log.read_text(errors='replace')}")
        return Outcome(pid=pid, killed=reply["signal"] == signal.SIGKILL, code=reply["code"], log=log)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kill-at", action="append", default=[], metavar="WHEN:MODULE:QUALNAME:N")
    parser.add_argument("--serve", action="store_true", help="fork server: one JSON request a line on stdin")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then inboxbot's own arguments")
    args = parser.parse_args(argv)
    if args.serve:
        serve(sys.stdin, sys.stdout)
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return run(args.kill_at, command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
