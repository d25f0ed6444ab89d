"""A TCP proxy on loopback that breaks connections on purpose: the network faults of the fault tests.

It sits between inboxbot and a real server (Dovecot, the SMTP sink) and forwards bytes both ways,
counting them per connection, so a test can:

- cut a connection once N bytes went one way (mid-FETCH of a large batch, mid-DATA of a mail):
  both sockets are reset (SO_LINGER 0, so the peer sees a RST, as when a router drops the line);
- hold a connection once N bytes went one way, until the test releases it (a server restarted while
  its FETCH answer is half delivered: a real mid-transfer window, however fast the loopback is);
- wait until a client sent a text (entering IDLE).

Threads, not asyncio: the proxy must keep forwarding while the test's own thread blocks.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field

from servers import LOOPBACK

UP = "up"  # client -> server
DOWN = "down"  # server -> client
CHUNK = 16384


class Hold:
    """A connection stopped at a byte count: `wait` until it is, act, then `release` it."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()

    def wait(self, timeout: float = 60) -> None:
        if not self.reached.wait(timeout):
            raise AssertionError(f"proxy: no connection reached the held byte count within {timeout} s")

    def release(self) -> None:
        self.released.set()


@dataclass
class _Rule:
    direction: str
    after: int  # bytes of one connection in `direction`
    hold: Hold | None  # None: cut the connection
    remaining: int  # connections still to act on
    fired: int = 0


@dataclass
class _Connection:
    client: socket.socket
    server: socket.socket
    sent: dict[str, int] = field(default_factory=lambda: {UP: 0, DOWN: 0})
    uploaded: bytearray = field(default_factory=bytearray)  # what the client sent on it
    done: set[int] = field(default_factory=set)  # rules already applied to this connection
    closed: bool = False


def _reset(sock: socket.socket) -> None:
    """Abort the connection. Closing alone is not enough: while another thread is blocked in recv()
    on the socket the kernel keeps it open, and the peer would see nothing at all; shutdown() wakes
    that thread, and the close that follows, with linger 0, sends the RST."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class Proxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port`, one pair of threads a connection."""

    def __init__(self, target_port: int, target_host: str = LOOPBACK) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Condition()
        self._rules: list[_Rule] = []
        self._connections: list[_Connection] = []
        self._seen = b""  # every byte that went up (clients send little), for wait_for_text
        self.cuts = 0
        self.cut_uploads: list[bytes] = []  # what the client had sent on each connection cut
        self.connections = 0
        self._running = True
        self._acceptor = threading.Thread(target=self._accept, name=f"proxy-{self.port}", daemon=True)
        self._acceptor.start()

    # -- what a test asks for -------------------------------------------------------------------

    def cut_after(self, direction: str, after: int, connections: int = 1) -> None:
        """Reset the next `connections` connection(s) that carry more than `after` bytes `direction`."""
        with self._lock:
            self._rules.append(_Rule(direction, after, None, connections))

    def hold(self, direction: str, after: int) -> Hold:
        """Stop the next connection that carries `after` bytes `direction` there, until released.

        The test acts from its own thread: a server started from a proxy thread would get the
        parent-death signal (tests/servers.py sets PR_SET_PDEATHSIG) when that thread ends.
        """
        hold = Hold()
        with self._lock:
            self._rules.append(_Rule(direction, after, hold, 1))
        return hold

    def fired(self) -> int:
        with self._lock:
            return sum(rule.fired for rule in self._rules)

    def wait_for_text(self, text: bytes, count: int = 1, timeout: float = 30) -> None:
        """Block until clients have sent `text` at least `count` times (over every connection)."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._seen.count(text) >= count, timeout):
                raise AssertionError(f"proxy: {text!r} was not sent {count} time(s) within {timeout} s")

    def count_text(self, text: bytes) -> int:
        with self._lock:
            return self._seen.count(text)

    def close(self) -> None:
        self._running = False
        _reset(self._listener)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            self._close(connection, reset=True)

    # -- forwarding -----------------------------------------------------------------------------

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                _reset(client)  # the server is down: the client sees its connection refused, nearly
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(client, server)
            with self._lock:
                self._connections.append(connection)
                self.connections += 1
            threading.Thread(target=self._pump, args=(connection, UP), daemon=True).start()
            threading.Thread(target=self._pump, args=(connection, DOWN), daemon=True).start()

    def _pump(self, connection: _Connection, direction: str) -> None:
        source, sink = (
            (connection.client, connection.server) if direction == UP else (connection.server, connection.client)
        )
        while True:
            try:
                data = source.recv(CHUNK)
            except OSError:
                data = b""
            if not data:
                self._close(connection, reset=False)
                return
            while data:
                forward, data, rule = self._split(connection, direction, data)
                try:
                    if forward:
                        sink.sendall(forward)
                except OSError:
                    self._close(connection, reset=True)
                    return
                if forward and direction == UP:
                    with self._lock:
                        self._seen += forward
                        connection.uploaded += forward
                        self._lock.notify_all()
                if rule is None:
                    continue
                if rule.hold is None:
                    with self._lock:
                        self.cuts += 1
                        self.cut_uploads.append(bytes(connection.uploaded))
                    self._close(connection, reset=True)
                    return
                rule.hold.reached.set()
                rule.hold.released.wait(120)  # the bytes after the threshold wait for the test

    def _split(self, connection: _Connection, direction: str, data: bytes) -> tuple[bytes, bytes, _Rule | None]:
        """The bytes to forward now, the rest, and the rule that fires between them (if any)."""
        with self._lock:
            before = connection.sent[direction]
            for index, rule in enumerate(self._rules):
                if (
                    rule.direction == direction
                    and rule.remaining > 0
                    and index not in connection.done
                    and before + len(data) > rule.after
                ):
                    rule.remaining -= 1
                    rule.fired += 1
                    connection.done.add(index)
                    cut = max(rule.after - before, 0)
                    connection.sent[direction] += cut
                    return data[:cut], data[cut:], rule
            connection.sent[direction] += len(data)
            return data, b"", None

    def _close(self, connection: _Connection, reset: bool) -> None:
        with self._lock:
            if connection.closed:
                return
            connection.closed = True
            if connection in self._connections:
                self._connections.remove(connection)
        if reset:
            _reset(connection.client)
            _reset(connection.server)
            return
        for sock in (connection.client, connection.server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
