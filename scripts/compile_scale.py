#!/usr/bin/env python3
"""Compile-time scale of zocket routers: generates apps of N routes (one nested
list, "flat"; nested in scopes D deep; and in 16 scopes side by side, written as
flat tuples, "tuples16", or as nested lists, "lists16"), then times `cargo
check` of each.

    python3 scripts/compile_scale.py                 # 50/100/200/500, flat and nested 5 deep
    python3 scripts/compile_scale.py --sizes 50,500 --depth 5 --check-only

Each app has N routes: half incoming (one handler each, which sends on its
outgoing twin through `ctx.send`, so `Contains` is proved for every route),
half outgoing; a `Client` of the router sends every incoming route. The apps
live in target/compile-scale/ and depend on this checkout by path; nothing is
downloaded beyond the crates zocket already uses.
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def route_defs(n):
    out = []
    for i in range(n // 2):
        out.append(f"pub struct In{i};\nimpl Incoming for In{i} {{ const NAME: &'static str = \"in{i}\"; type Payload = Num; }}")
        out.append(f"pub struct Out{i};\nimpl Outgoing for Out{i} {{ const NAME: &'static str = \"out{i}\"; type Payload = Num; }}")
    return "\n".join(out)


def hlist(items):
    s = "()"
    for item in reversed(items):
        s = f"({item}, {s})"
    return s


def namespaces(k):
    return "\n".join(
        f"pub struct Ns{i};\nimpl Namespace for Ns{i} {{ const NAME: &'static str = \"ns{i}\"; }}"
        for i in range(k)
    )


def grouped(names, tuples):
    """The routes in 16 scopes side by side, each holding a 16th of them: as
    flat tuples at both levels (`tuples`), or as nested lists (`lists`)."""
    groups = 16
    per = -(-len(names) // groups)
    chunks = [names[i * per:(i + 1) * per] for i in range(groups)]
    chunks = [c for c in chunks if c]
    wrap = (lambda items: "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")") if tuples else hlist
    scopes = [f"Scope<Ns{k}, {wrap(c)}>" for k, c in enumerate(chunks)]
    return wrap(scopes), namespaces(len(chunks))


def router(n, depth):
    """The router type: one nested list (depth 1), the routes split into
    `depth` nested scopes, or (depth "tuples"/"lists") 16 scopes side by side."""
    names = []
    for i in range(n // 2):
        names += [f"In{i}", f"Out{i}"]
    if depth in ("tuples", "lists"):
        return grouped(names, depth == "tuples")
    if depth <= 1:
        return hlist(names), ""
    # Scope k holds a slice of the routes and scope k+1 after them.
    per = max(1, len(names) // depth)
    chunks = [names[i * per:(i + 1) * per] for i in range(depth - 1)] + [names[(depth - 1) * per:]]
    ns = "\n".join(
        f"pub struct Ns{k};\nimpl Namespace for Ns{k} {{ const NAME: &'static str = \"ns{k}\"; }}"
        for k in range(depth)
    )
    inner = hlist(chunks[-1])
    for k in range(depth - 2, -1, -1):
        inner = hlist(chunks[k] + [f"Scope<Ns{k + 1}, {inner}>"])
    return f"(Scope<Ns0, {inner}>, ())", ns


def app(n, depth):
    r, ns = router(n, depth)
    handlers = "\n".join(
        f"async fn h{i}(p: Num, ctx: Ctx<Api>) -> HandlerResult {{ ctx.send(Out{i}, p)?.to([ctx.id()]); Ok(()) }}"
        for i in range(n // 2)
    )
    ons = "\n".join(f"        .on(In{i}, h{i})" for i in range(n // 2))
    sends = "\n".join(f"    client.send(In{i}, Num {{ n: {i} }}).unwrap();" for i in range(n // 2))
    return f"""#![allow(dead_code, unused_imports)]
use garde::Validate;
use serde::{{Deserialize, Serialize}};
use zocket::{{Client, Ctx, HandlerResult, Incoming, Namespace, Outgoing, Scope, Zocket}};

#[derive(Serialize, Deserialize, Validate)]
pub struct Num {{ #[garde(skip)] n: i64 }}

{route_defs(n)}
{ns}

pub type Api = {r};

{handlers}

pub fn build() -> Zocket<Api> {{
    Zocket::<Api>::builder()
{ons}
        .build()
        .unwrap()
}}

pub async fn client(client: Client<Api>) {{
{sends}
}}

fn main() {{
    let app = build();
    assert_eq!(app.routes().len(), {n // 2 * 2});
}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="50,100,200,500")
    ap.add_argument("--depth", type=int, default=5, help="scope depth of the nested apps")
    ap.add_argument("--flat-only", action="store_true")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    base = os.path.join(ROOT, "target", "compile-scale")
    os.makedirs(os.path.join(base, "src", "bin"), exist_ok=True)
    with open(os.path.join(base, "Cargo.toml"), "w") as f:
        f.write(f"""[package]
name = "compile-scale"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
zocket = {{ path = "{ROOT}" }}
serde = {{ version = "1", features = ["derive"] }}
garde = {{ version = "0.23", features = ["derive"] }}

[workspace]
""")
    shapes = [("flat", 1)] + ([] if args.flat_only else [
        (f"nested{args.depth}", args.depth),
        # The same routes in 16 scopes of flat tuples (a level holds at most
        # 32), against the same scopes holding nested lists.
        ("tuples16", "tuples"),
        ("lists16", "lists"),
    ])
    bins = []
    for n in sizes:
        for label, depth in shapes:
            name = f"{label}_{n}"
            with open(os.path.join(base, "src", "bin", f"{name}.rs"), "w") as f:
                f.write(app(n, depth))
            bins.append((name, n, label))
    # No incremental cache: every check starts from the source, as a first build does.
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(base, "target"), CARGO_INCREMENTAL="0")
    # Warm up: build the dependencies once.
    subprocess.run(["cargo", "check", "--quiet", "--bin", bins[0][0]], cwd=base, env=env, check=True)
    results = {}
    for name, n, label in bins:
        times = []
        for _ in range(args.repeats):
            # Touch the file so only this app is re-checked.
            os.utime(os.path.join(base, "src", "bin", f"{name}.rs"))
            t = time.monotonic()
            p = subprocess.run(["cargo", "check", "--quiet", "--bin", name], cwd=base, env=env,
                               capture_output=True, text=True)
            times.append(time.monotonic() - t)
            if p.returncode != 0:
                sys.stderr.write(p.stderr[-3000:])
                print(f"{name}: FAILED to compile")
                break
        else:
            results[(label, n)] = min(times)
            print(f"{name}: cargo check {min(times):.2f} s", flush=True)
    print()
    print("| routes | " + " | ".join(l for l, _ in shapes) + " |")
    print("|---|" + "---|" * len(shapes))
    for n in sizes:
        cells = [f"{results[(l, n)]:.2f} s" if (l, n) in results else "fails" for l, _ in shapes]
        print(f"| {n} | " + " | ".join(cells) + " |")
    for l, _ in shapes:
        if (l, sizes[0]) in results and (l, sizes[-1]) in results:
            print(f"{l}: {sizes[-1]} routes / {sizes[0]} routes = "
                  f"{results[(l, sizes[-1])] / results[(l, sizes[0])]:.1f}x")
    failed = [b for b in bins if (b[2], b[1]) not in results]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
