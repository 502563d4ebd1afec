#!/usr/bin/env python3
"""What a socket-speed flood costs the server, in CPU seconds (BENCHMARKS.md, "Floods").

Starts a chat example binary on 127.0.0.1, then runs two phases of the same
length, reading the server's CPU time (user + system, from /proc) around each:

- honest: one client sends `chat.send` at 900 messages a second (under the
  default limit of 1,000/s) to a room with one reader, for DURATION seconds;
- flood: one client writes tiny `chat.send` frames as fast as its socket takes
  them (pre-framed bytes handed to `sendall`, no pacing), and when the server
  closes it (as soon as the close frame arrives), connects again and goes
  on, for DURATION seconds; a thread drains
  what the server writes back and counts the error frames.

It prints both costs and their ratio. Stdlib only (raw sockets and hand-made
frames, so the flooder is as fast as the kernel allows).

    cargo build --release --example chat
    python3 scripts/flood_cpu.py target/release/examples/chat

To measure another build (an older commit), build its chat example in a
worktree and pass that binary.
"""

import argparse
import base64
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line (1-based).
    return (int(fields[11]) + int(fields[12])) / TICKS


def frame(text):
    """A masked text frame (clients mask; the mask is fixed: speed, not secrecy)."""
    data = text.encode()
    mask = b"\x01\x02\x03\x04"
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return head + mask + masked


def message(route, payload):
    return frame(json.dumps({"type": route, "payload": payload}))


def connect(port, name):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /ws?name={name} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the handshake")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise RuntimeError(f"refused: {status!r}")
    return s, head.split(b"\r\n\r\n", 1)[1]


class Reader(threading.Thread):
    """Drains a socket, parsing frames: counts error frames, other frames, the close code."""

    def __init__(self, sock, rest):
        super().__init__(daemon=True)
        self.sock, self.buf = sock, rest
        self.errors = self.others = 0
        self.close = None

    def run(self):
        try:
            while True:
                while True:
                    parsed = self.take()
                    if parsed is None:
                        break
                    op, data = parsed
                    if op == 8:
                        self.close = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                        return
                    if op == 1:
                        if data.startswith(b'{"type":"$zocket.error"'):
                            self.errors += 1
                        else:
                            self.others += 1
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return
                self.buf += chunk
        except OSError:
            return

    def take(self):
        b = self.buf
        if len(b) < 2:
            return None
        op, n, at = b[0] & 0x0F, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, at = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, at = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < at + n:
            return None
        self.buf = b[at + n :]
        return op, b[at : at + n]


def wait_for_port(port, proc):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("the server did not listen")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def honest(port, duration):
    reader, rest = connect(port, "reader")
    reader.sendall(message("chat.join", {"room": "lobby"}))
    r = Reader(reader, rest)
    r.start()
    s, rest = connect(port, "honest")
    Reader(s, rest).start()
    s.sendall(message("chat.join", {"room": "lobby"}))
    one = message("chat.send", {"room": "lobby", "text": "hi"})
    sent, start = 0, time.monotonic()
    while (now := time.monotonic()) < start + duration:
        due = int((now - start) * 900)
        if sent < due:
            s.sendall(one * (due - sent))
            sent = due
        time.sleep(0.002)
    s.close()
    reader.close()
    return sent, r.others


def flood(port, duration):
    reader, rest = connect(port, "reader2")
    reader.sendall(message("chat.join", {"room": "lobby"}))
    room = Reader(reader, rest)
    room.start()
    blob = message("chat.send", {"room": "lobby", "text": "x"}) * 200
    deadline = time.monotonic() + duration
    connections, sent_bytes, errors, closes = 0, 0, 0, {}
    while time.monotonic() < deadline:
        try:
            s, rest = connect(port, "flooder")
        except (OSError, RuntimeError):
            time.sleep(0.01)
            continue
        connections += 1
        r = Reader(s, rest)
        r.start()
        try:
            s.sendall(message("chat.join", {"room": "lobby"}))
            # Reconnects as soon as it is told it is closed (the worst case
            # for the server: a new connection and a new burst at once).
            view, at = memoryview(blob), 0
            while time.monotonic() < deadline and r.close is None:
                if not select.select([], [s], [], 0.05)[1]:
                    continue
                try:
                    n = s.send(view[at:], socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                sent_bytes += n
                at = (at + n) % len(blob)
        except OSError:
            pass
        r.join(timeout=2)
        errors += r.errors
        closes[r.close] = closes.get(r.close, 0) + 1
        s.close()
    reader.close()
    return connections, sent_bytes, errors, closes, room.others


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("server", help="path to a built chat example binary")
    p.add_argument("--seconds", type=float, default=10.0)
    a = p.parse_args()
    port = free_port()
    env = dict(os.environ, PORT=str(port), RUST_LOG="warn")
    proc = subprocess.Popen([a.server], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        c0 = cpu_seconds(proc.pid)
        sent, delivered = honest(port, a.seconds)
        c1 = cpu_seconds(proc.pid)
        conns, sent_bytes, errors, closes, room = flood(port, a.seconds)
        c2 = cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    honest_cpu, flood_cpu = c1 - c0, c2 - c1
    print(f"server: {a.server}")
    print(f"honest  {a.seconds:.0f} s: {sent} messages sent, {delivered} delivered to the reader, "
          f"server CPU {honest_cpu:.2f} s")
    print(f"flood   {a.seconds:.0f} s: {conns} connection(s), {sent_bytes / 1e6:.1f} MB written, "
          f"{errors} error frames back, closes {closes}, {room} messages reached the room; "
          f"server CPU {flood_cpu:.2f} s")
    print(f"flood / honest CPU: {flood_cpu / max(honest_cpu, 0.01):.1f}x")


if __name__ == "__main__":
    main()
