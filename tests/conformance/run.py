#!/usr/bin/env python3
"""The zocket protocol conformance kit: plays the scenarios in scenarios/*.json
against a server and checks what comes back (PROTOCOL.md, "Conformance kit").

    python3 tests/conformance/run.py --url ws://127.0.0.1:3000/ws --features password,banned
    python3 tests/conformance/run.py --check-rules PROTOCOL.md     # every rule has a scenario
    python3 tests/conformance/run.py --list

Python 3.9+, standard library only. The WebSocket framing is done here (not by a
library) so a scenario can send what a library would refuse to (bad frames,
unmasked frames, huge heads) and see what a library would hide (pings, the exact
close code). The scenario format is described in tests/conformance/README.md.
"""

import argparse
import asyncio
import base64
import glob
import json
import os
import re
import struct
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 5.0
# Frames a scenario does not see unless it asks for them (its "skip" replaces this).
DEFAULT_SKIP = ["chat.onPresence", "$zocket.welcome", "$zocket.expiring"]


class Failure(Exception):
    pass


# ---- frames -------------------------------------------------------------------------


def encode_frame(opcode, data, fin=True, mask=True, rsv=0):
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(data)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + data
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(data))


class Conn:
    """One client connection: raw socket, frames in both directions."""

    def __init__(self, name, reader, writer, rest, auto_pong):
        self.name, self.reader, self.writer = name, reader, writer
        self.buf = rest
        self.auto_pong = auto_pong
        self.closed = None  # (code, reason) once a close frame arrived
        self.fragments = None

    async def read_frame(self):
        while True:
            parsed = self.take()
            if parsed is not None:
                return parsed
            chunk = await self.reader.read(65536)
            if not chunk:
                raise EOFError("the server closed the TCP connection")
            self.buf += chunk

    def take(self):
        b = self.buf
        if len(b) < 2:
            return None
        fin, opcode, n, at = b[0] & 0x80, b[0] & 0x0F, b[1] & 0x7F, 2
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
        self.buf = b[at + n:]
        return bool(fin), opcode, b[at:at + n]

    async def next_event(self):
        """The next message ("text", str), ("binary", bytes), ("ping", bytes) or ("close", (code, reason))."""
        while True:
            fin, opcode, data = await self.read_frame()
            if opcode == 9:
                if self.auto_pong:
                    self.send_frame(10, data)
                    continue
                return "ping", data
            if opcode == 10:
                continue
            if opcode == 8:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                self.closed = (code, data[2:].decode("utf-8", "replace"))
                return "close", self.closed
            if opcode in (1, 2) and not fin:
                self.fragments = (opcode, bytearray(data))
                continue
            if opcode == 0:
                kind, acc = self.fragments
                acc += data
                if not fin:
                    continue
                opcode, data, self.fragments = kind, bytes(acc), None
            if opcode == 1:
                return "text", data.decode("utf-8")
            return "binary", data

    def send_frame(self, opcode, data, **kw):
        self.writer.write(encode_frame(opcode, data, **kw))

    def drop(self):
        self.writer.transport.abort()


async def open_socket(url):
    u = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port or 80)
    return u, reader, writer


async def read_http_answer(reader):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await reader.read(65536)
        if not chunk:
            break
        head += chunk
    text, _, rest = head.partition(b"\r\n\r\n")
    lines = text.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status != 101:
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length:
            chunk = await reader.read(65536)
            if not chunk:
                break
            rest += chunk
    return status, headers, rest


# ---- matching -----------------------------------------------------------------------


def subst(value, vars):
    """Replaces "${name}" with captured values (the whole string keeps the value's type)."""
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{(\w+)\}", value)
        if whole:
            if whole.group(1) not in vars:
                raise Failure(f"${{{whole.group(1)}}} used before it was captured")
            return vars[whole.group(1)]
        return re.sub(r"\$\{(\w+)\}", lambda m: str(vars[m.group(1)]), value)
    if isinstance(value, list):
        return [subst(v, vars) for v in value]
    if isinstance(value, dict):
        return {k: subst(v, vars) for k, v in value.items()}
    return value


def match(pattern, actual, vars, path="$"):
    """Subset match: every key of a pattern object must match (others may be present);
    "$any" anything, "$absent" a missing key, "$re:<regex>" a string or number whose text
    matches, "$ne:${name}" anything but a captured value, {"$contains": [..]} a list with
    an element matching each pattern, "${name}" captures on first use and must be equal
    afterwards."""
    if isinstance(pattern, str):
        if pattern == "$any":
            return
        if pattern.startswith("$ne:"):
            other = subst(pattern[4:], vars)
            if actual == other:
                raise Failure(f"{path}: {actual!r}, expected anything else")
            return
        if pattern.startswith("$re:"):
            text = actual if isinstance(actual, str) else json.dumps(actual)
            if actual is None or not re.fullmatch(pattern[4:], text):
                raise Failure(f"{path}: {actual!r} does not match /{pattern[4:]}/")
            return
        cap = re.fullmatch(r"\$\{(\w+)\}", pattern)
        if cap:
            name = cap.group(1)
            if name in vars:
                if vars[name] != actual:
                    raise Failure(f"{path}: {actual!r}, expected ${{{name}}} = {vars[name]!r}")
            else:
                vars[name] = actual
            return
    if isinstance(pattern, dict) and list(pattern) == ["$contains"]:
        if not isinstance(actual, list):
            raise Failure(f"{path}: expected a list, got {actual!r}")
        for want in pattern["$contains"]:
            for got in actual:
                try:
                    match(want, got, dict(vars), path)
                    break
                except Failure:
                    pass
            else:
                raise Failure(f"{path}: no element matches {json.dumps(want)} in {json.dumps(actual)[:300]}")
        return
    if isinstance(pattern, dict):
        if not isinstance(actual, dict):
            raise Failure(f"{path}: expected an object, got {actual!r}")
        for k, p in pattern.items():
            if p == "$absent":
                if k in actual:
                    raise Failure(f"{path}.{k}: expected no such field, got {actual[k]!r}")
                continue
            if k not in actual:
                raise Failure(f"{path}.{k}: missing in {json.dumps(actual)[:300]}")
            match(p, actual[k], vars, f"{path}.{k}")
        return
    if isinstance(pattern, list):
        if not isinstance(actual, list) or len(actual) != len(pattern):
            raise Failure(f"{path}: expected {len(pattern)} elements, got {actual!r}")
        for i, (p, a) in enumerate(zip(pattern, actual)):
            match(p, a, vars, f"{path}[{i}]")
        return
    if pattern != actual or type(pattern) is not type(actual) and not (
        isinstance(pattern, (int, float)) and isinstance(actual, (int, float)) and not isinstance(actual, bool)
    ):
        raise Failure(f"{path}: expected {pattern!r}, got {actual!r}")


# ---- a scenario ---------------------------------------------------------------------


class Run:
    def __init__(self, url, scenario):
        self.url, self.sc = url, scenario
        self.conns, self.vars = {}, {}
        self.skip = scenario.get("skip", DEFAULT_SKIP)
        self.barriers = 0

    def conn(self, name):
        if name not in self.conns:
            raise Failure(f"client {name!r} is not connected")
        return self.conns[name]

    async def connect(self, step):
        """Opens a client. With `until_accepted_ms`, a 503 (server full) is retried until
        the deadline: connections of the previous scenario may still be leaving."""
        deadline = asyncio.get_running_loop().time() + step.get("until_accepted_ms", 0) / 1000
        while True:
            try:
                return await self.connect_once(step)
            except Failure as e:
                if "status 503" not in str(e) or asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def connect_once(self, step):
        name = step["connect"]
        u, reader, writer = await open_socket(self.url)
        path = step.get("path", u.path or "/")
        query = subst(step.get("query", ""), self.vars)
        target = path + ("?" + query if query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {u.hostname}:{u.port}", "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                 "Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode()]
        for k, v in subst(step.get("headers", {}), self.vars).items():
            lines.append(f"{k}: {v}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, headers, rest = await asyncio.wait_for(read_http_answer(reader), TIMEOUT)
        expected = step.get("status", 101)
        if status != expected:
            raise Failure(f"connect {name}: status {status}, expected {expected} ({rest[:200]!r})")
        if status != 101:
            self.check_body(step, rest)
            writer.close()
            return
        self.conns[name] = Conn(name, reader, writer, rest, step.get("auto_pong", True))

    def check_body(self, step, body):
        if "body" in step:
            try:
                actual = json.loads(body.decode("utf-8"))
            except ValueError:
                raise Failure(f"the body is not JSON: {body[:200]!r}")
            match(subst(step["body"], self.vars), actual, self.vars, "body")

    async def raw_http(self, step):
        u, reader, writer = await open_socket(self.url)
        text = step["raw_http"].replace("{host}", f"{u.hostname}:{u.port}")
        if "pad_header_bytes" in step:
            text = text.replace("\r\n\r\n", f"\r\nX-Pad: {'a' * step['pad_header_bytes']}\r\n\r\n", 1)
        if "extra_headers" in step:
            extra = "".join(f"X-H{i}: {i}\r\n" for i in range(step["extra_headers"]))
            text = text.replace("\r\n\r\n", "\r\n" + extra + "\r\n", 1)
        writer.write(text.encode())
        status, _, body = await asyncio.wait_for(read_http_answer(reader), TIMEOUT)
        if status != step["status"]:
            raise Failure(f"raw request: status {status}, expected {step['status']} ({body[:200]!r})")
        self.check_body(step, body)
        writer.close()

    async def next_message(self, c, timeout=TIMEOUT):
        """The next event of `c` that is not a skipped message type."""
        while True:
            kind, data = await asyncio.wait_for(c.next_event(), timeout)
            if kind == "text":
                try:
                    msg = json.loads(data)
                except ValueError:
                    raise Failure(f"{c.name}: the server sent text that is not JSON: {data[:200]!r}")
                if isinstance(msg, dict) and msg.get("type") in self.skip:
                    continue
                return kind, msg
            return kind, data

    async def expect(self, step):
        c = self.conn(step["expect"])
        kind, msg = await self.next_message(c, step.get("timeout", TIMEOUT))
        if kind != "text":
            raise Failure(f"{c.name}: expected a message, got {kind} {msg!r}")
        try:
            match(subst_keep_captures(step["json"], self.vars), msg, self.vars)
        except Failure as e:
            raise Failure(f"{c.name}: {e}\n  got: {json.dumps(msg)[:400]}")

    async def expect_close(self, step):
        c = self.conn(step["expect_close"])
        deadline = step.get("timeout", TIMEOUT)
        seen = 0
        while True:
            try:
                kind, msg = await self.next_message(c, deadline)
            except EOFError:
                raise Failure(f"{c.name}: the TCP connection ended without a close frame")
            if kind == "close":
                code, reason = msg
                if code != step["code"]:
                    raise Failure(f"{c.name}: closed with {code} {reason!r}, expected {step['code']}")
                if "reason" in step and not re.search(step["reason"], reason):
                    raise Failure(f"{c.name}: close reason {reason!r} does not match {step['reason']!r}")
                if "max_messages" in step and seen > step["max_messages"]:
                    raise Failure(f"{c.name}: {seen} messages before the close, at most {step['max_messages']}")
                if "count_as" in step:
                    self.vars[step["count_as"]] = seen
                return
            if kind == "text" and "allow" in step and msg.get("type") not in step["allow"]:
                raise Failure(f"{c.name}: unexpected {json.dumps(msg)[:300]} before the close")
            seen += 1

    async def barrier(self, step):
        """`$zocket.ping` and wait for its pong: everything the server had to send
        for earlier messages came before it. Messages before it fail the step,
        unless they match `allow` (patterns), which are then counted."""
        c = self.conn(step["barrier"])
        self.barriers += 1
        c.send_frame(1, json.dumps({"type": "$zocket.ping", "payload": None}).encode())
        count = 0
        while True:
            kind, msg = await self.next_message(c)
            if kind == "text" and msg.get("type") == "$zocket.pong":
                break
            allowed = False
            for pattern in step.get("allow", []):
                try:
                    match(subst_keep_captures(pattern, self.vars), msg, dict(self.vars))
                    allowed = True
                    break
                except Failure:
                    pass
            if not allowed:
                raise Failure(f"{c.name}: expected nothing before the barrier, got {kind} {json.dumps(msg) if kind == 'text' else msg!r}"[:500])
            count += 1
        if "at_most" in step and count > step["at_most"]:
            raise Failure(f"{c.name}: {count} allowed messages before the barrier, at most {step['at_most']}")
        if "at_least" in step and count < step["at_least"]:
            raise Failure(f"{c.name}: {count} allowed messages before the barrier, at least {step['at_least']}")

    def send(self, step):
        c = self.conn(step["send"])
        if "json" in step:
            data, opcode = json.dumps(subst(step["json"], self.vars)).encode(), 1
        elif "text" in step:
            data, opcode = subst(step["text"], self.vars).encode(), 1
        elif "hex" in step:
            data, opcode = bytes.fromhex(step["hex"]), 1
        else:
            raise Failure("send: json, text or hex")
        if step.get("binary"):
            opcode = 2
        opcode = step.get("opcode", opcode)
        if "pad_to" in step:
            data = data + b" " * max(0, step["pad_to"] - len(data))
        kw = {"fin": step.get("fin", True), "mask": step.get("mask", True), "rsv": step.get("rsv", 0)}
        if "each" in step:
            # One frame per i in 0..each, with "{i}" in the data replaced by i.
            for i in range(step["each"]):
                c.writer.write(encode_frame(opcode, data.replace(b"{i}", str(i).encode()), **kw))
            return
        c.writer.write(encode_frame(opcode, data, **kw) * step.get("repeat", 1))

    async def step(self, step):
        if "connect" in step:
            await self.connect(step)
        elif "raw_http" in step:
            await self.raw_http(step)
        elif "send" in step:
            self.send(step)
            await self.conn(step["send"]).writer.drain()
        elif "expect" in step:
            await self.expect(step)
        elif "expect_close" in step:
            await self.expect_close(step)
        elif "expect_ping" in step:
            c = self.conn(step["expect_ping"])
            kind, msg = await self.next_message(c, step.get("timeout", TIMEOUT))
            if kind != "ping":
                raise Failure(f"{c.name}: expected a ping, got {kind} {msg!r}")
        elif "barrier" in step:
            await self.barrier(step)
        elif "close" in step:
            c = self.conn(step["close"])
            c.send_frame(8, struct.pack("!H", step.get("code", 1000)))
        elif "drop" in step:
            self.conn(step["drop"]).drop()
            del self.conns[step["drop"]]
        elif "wait_ms" in step:
            await asyncio.sleep(step["wait_ms"] / 1000)
        elif "capture" in step:
            self.vars[step["capture"]] = subst(step["value"], self.vars)
        else:
            raise Failure(f"unknown step {step}")

    async def run(self):
        try:
            for i, step in enumerate(self.sc["steps"]):
                try:
                    await self.step(step)
                except asyncio.TimeoutError:
                    raise Failure(f"step {i + 1} {json.dumps(step)[:200]}: nothing within the timeout")
                except EOFError as e:
                    raise Failure(f"step {i + 1} {json.dumps(step)[:200]}: {e}")
                except Failure as e:
                    raise Failure(f"step {i + 1} {json.dumps(step)[:200]}: {e}")
        finally:
            for c in self.conns.values():
                c.drop()


def subst_keep_captures(pattern, vars):
    """Substitutes captured values into a pattern, leaving uncaptured ${x} for capture."""
    if isinstance(pattern, str):
        m = re.fullmatch(r"\$\{(\w+)\}", pattern)
        if m and m.group(1) not in vars:
            return pattern
        if m:
            return vars[m.group(1)]
        return pattern
    if isinstance(pattern, list):
        return [subst_keep_captures(p, vars) for p in pattern]
    if isinstance(pattern, dict):
        return {k: subst_keep_captures(v, vars) for k, v in pattern.items()}
    return pattern


# ---- the kit ------------------------------------------------------------------------


def load():
    scenarios = []
    for path in sorted(glob.glob(os.path.join(HERE, "scenarios", "*.json"))):
        with open(path) as f:
            for sc in json.load(f):
                sc["file"] = os.path.basename(path)
                scenarios.append(sc)
    names = [s["name"] for s in scenarios]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit(f"duplicate scenario names: {sorted(dup)}")
    return scenarios


# Server features that change every connection: a server with one runs only the
# scenarios written for it.
EXCLUSIVE = {"password", "full", "session"}


def runnable(sc, features):
    for f in sorted(features & EXCLUSIVE):
        if f not in sc.get("requires", []):
            return False, f"a server without {f}"
    for req in sc.get("requires", []):
        if req.startswith("!"):
            if req[1:] in features:
                return False, req
        elif req not in features:
            return False, req
    return True, None


RULE = re.compile(r"\[rule ([A-Z]+[0-9]+): kit ([^\]]+)\]")


def check_rules(protocol, scenarios):
    """Every rule tag of PROTOCOL.md names scenarios that exist and check it, every rule
    has one, and every scenario's rule is in PROTOCOL.md."""
    text = open(protocol).read()
    rules = {}
    for m in RULE.finditer(text):
        if m.group(1) in rules:
            problems = [f"rule {m.group(1)} is tagged twice"]
        rules[m.group(1)] = [n.strip().strip("`") for n in m.group(2).split(",")]
    by_name = {s["name"]: s for s in scenarios}
    problems = []
    for rule, names in sorted(rules.items()):
        checking = [s["name"] for s in scenarios if s["rule"] == rule]
        if not checking:
            problems.append(f"rule {rule}: no scenario checks it")
        for n in names:
            if n not in by_name:
                problems.append(f"rule {rule}: PROTOCOL.md names scenario {n!r}, which does not exist")
            elif by_name[n]["rule"] != rule:
                problems.append(f"rule {rule}: scenario {n!r} checks rule {by_name[n]['rule']}")
        for n in checking:
            if n not in names:
                problems.append(f"rule {rule}: scenario {n!r} checks it but PROTOCOL.md does not name it")
    for s in scenarios:
        if s["rule"] not in rules:
            problems.append(f"scenario {s['name']!r}: rule {s['rule']} is not in PROTOCOL.md")
    print(f"{len(rules)} rules in {os.path.basename(protocol)}, {len(scenarios)} scenarios")
    for p in problems:
        print("  " + p)
    return not problems


async def main_async(args, scenarios):
    features = set(f for f in args.features.split(",") if f)
    passed = failed = skipped = 0
    failures = []
    for sc in scenarios:
        if args.only and not re.search(args.only, sc["name"]):
            continue
        ok, missing = runnable(sc, features)
        if not ok:
            skipped += 1
            print(f"SKIP {sc['name']} (rule {sc['rule']}): needs {missing}")
            continue
        try:
            await asyncio.wait_for(Run(args.url, sc).run(), sc.get("timeout", 30))
            passed += 1
            print(f"PASS {sc['name']} (rule {sc['rule']})")
        except (Failure, asyncio.TimeoutError, OSError) as e:
            failed += 1
            failures.append(sc["name"])
            print(f"FAIL {sc['name']} (rule {sc['rule']}): {e or 'timed out'}")
    print(f"\n{passed} passed, {failed} failed, {skipped} skipped (features: {','.join(sorted(features)) or 'none'})")
    if failures:
        print("failed: " + ", ".join(failures))
    return failed == 0


def main():
    p = argparse.ArgumentParser(description="zocket protocol conformance kit")
    p.add_argument("--url", help="the server's WebSocket URL, e.g. ws://127.0.0.1:3000/ws")
    p.add_argument("--features", default="", help="what the server has, comma-separated (see README)")
    p.add_argument("--only", help="run the scenarios whose name matches this regex")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    p.add_argument("--check-rules", metavar="PROTOCOL.md", help="check the rule tags against the scenarios")
    p.add_argument("--coverage", metavar="F1,F2;F3;..",
                   help="check that every scenario runs under one of these feature sets")
    args = p.parse_args()
    scenarios = load()
    if args.coverage:
        sets = [set(f for f in group.split(",") if f) for group in args.coverage.split(";")]
        never = [s["name"] for s in scenarios if not any(runnable(s, fs)[0] for fs in sets)]
        print(f"{len(scenarios) - len(never)} of {len(scenarios)} scenarios run under one of {len(sets)} configurations")
        for n in never:
            print("  never runs: " + n)
        return 1 if never else 0
    if args.list:
        for s in scenarios:
            req = ",".join(s.get("requires", [])) or "-"
            print(f"{s['name']:50} rule {s['rule']:5} requires {req}")
        return 0
    if args.check_rules:
        return 0 if check_rules(args.check_rules, scenarios) else 1
    if not args.url:
        p.error("--url is required")
    return 0 if asyncio.run(main_async(args, scenarios)) else 1


if __name__ == "__main__":
    sys.exit(main())
