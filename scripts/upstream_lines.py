#!/usr/bin/env python3
"""Lines of the five upstream docs examples as ported (examples/upstream/),
server side and client side: non-blank lines that are not comments, between
the `// ---- server ----`, `// ---- client ----` and `// ---- main ----`
markers. The TypeScript figures are the same count over the code blocks of
upstream Zocket's docs pages (measured once; see src/docs/from_typescript.md).
tests/upstream_examples.rs checks the same numbers."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (example, TypeScript server lines, TypeScript client lines)
UPSTREAM = [
    ("ping_pong", 40, 16),
    ("chat_rooms", 100, 15),
    ("private_messaging", 47, 16),
    ("notifications", 51, 24),
    ("game", 79, 24),
]


def count(path):
    sections, current = {}, None
    for line in open(path):
        s = line.strip()
        if s.startswith("// ---- ") and s.endswith(" ----"):
            current = s[8:-5]
            continue
        if current and s and not s.startswith("//"):
            sections[current] = sections.get(current, 0) + 1
    return sections


def main():
    print("| example | TS server | Rust server | ratio | TS client | Rust client | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, ts_server, ts_client in UPSTREAM:
        c = count(os.path.join(ROOT, "examples", "upstream", f"{name}.rs"))
        rs, rc = c.get("server", 0), c.get("client", 0)
        print(f"| {name} | {ts_server} | {rs} | {rs / ts_server:.2f}x | {ts_client} | {rc} | {rc / ts_client:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
