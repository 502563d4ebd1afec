#!/usr/bin/env bash
# Runs the Autobahn WebSocket conformance suite (wstest -m fuzzingclient)
# against zocket's conformance echo server (examples/autobahn_echo.rs).
#
# autobahntestsuite is Python 2.7 code, so it runs in a Debian 11 (bullseye)
# chroot built with debootstrap and cached in $AUTOBAHN_ROOT (default
# /var/cache/zocket-autobahn). Needs root. Fails on any FAILED, WRONG CODE or
# UNCLEAN case; writes the summary to autobahn/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${AUTOBAHN_ROOT:-/var/cache/zocket-autobahn}"
PORT=9001

# Run in the chroot with a clean environment (the host's pip settings, such as
# find-links, do not apply there) but the host's CA bundle, so that TLS to the
# package registry works wherever the host's does.
in_chroot() {
  local root="$1"; shift
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DEFAULT_TIMEOUT=180 \
    chroot "$root" "$@"
}

# The Debian mirror this machine's apt is configured with (deb822 .sources
# files or one-line .list files), so that no registry host is written here.
debian_mirror() {
  local uri
  uri=$( {
      grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -E 's/^[[:space:]]*URIs:[[:space:]]*//' | tr ' ' '\n'
      grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }'
    } | grep -E '^[a-z]+://' | grep -v -- '-security' | head -n 1)
  if [ -z "$uri" ]; then
    echo "no Debian mirror found in the apt configuration" >&2
    exit 1
  fi
  echo "$uri"
}

build_chroot() {
  echo "== building the bullseye chroot in $ROOT (cached)"
  command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  rm -rf "$ROOT.tmp"
  debootstrap --variant=minbase \
    --include=python2.7,python2.7-dev,gcc,libc6-dev,libffi-dev,libssl-dev,ca-certificates,curl \
    bullseye "$ROOT.tmp" "$(debian_mirror)" >/tmp/zocket-debootstrap.log 2>&1 || {
      tail -20 /tmp/zocket-debootstrap.log; exit 1; }
  cp /etc/resolv.conf "$ROOT.tmp/etc/resolv.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT.tmp/etc/ssl/certs/ca-certificates.crt"
  # pip 20.3.4, the last pip for Python 2.7, from PyPI (a wheel runs itself).
  mkdir -p "$ROOT.tmp/wheels"
  env -u PIP_FIND_LINKS python3 -m pip download -q --no-deps --disable-pip-version-check \
    -d "$ROOT.tmp/wheels" pip==20.3.4
  in_chroot "$ROOT.tmp" /usr/bin/python2.7 /wheels/pip-20.3.4-py2.py3-none-any.whl/pip \
    install -q --disable-pip-version-check /wheels/pip-20.3.4-py2.py3-none-any.whl
  in_chroot "$ROOT.tmp" /usr/bin/python2.7 -m pip install -q --disable-pip-version-check \
    setuptools==44.0.0 wheel==0.37.1
  # The upstream pinned set; autobahntestsuite's own metadata lists none.
  in_chroot "$ROOT.tmp" /usr/bin/python2.7 -m pip install -q --disable-pip-version-check \
    Twisted==19.10.0 autobahn==0.10.9 txaio==2.1.0 pyOpenSSL==19.1.0 cryptography==3.3.2 \
    zope.interface==4.6.0 service_identity==18.1.0 klein==17.10.0 Werkzeug==1.0.1 \
    jinja2==2.11.3 markupsafe==1.1.1 unittest2==1.1.0 six==1.16.0 incremental==16.10.1 \
    attrs==21.4.0 pyasn1==0.4.8 pyasn1-modules==0.2.8 idna==2.10 enum34==1.1.10 \
    ipaddress==1.0.23 cffi==1.15.1 pycparser==2.21 constantly==15.1.0 hyperlink==21.0.0 \
    Automat==20.2.0 PyHamcrest==1.10.1 traceback2==1.4.0 linecache2==1.0.0 argparse==1.4.0
  in_chroot "$ROOT.tmp" /usr/bin/python2.7 -m pip install -q --disable-pip-version-check --no-deps \
    autobahntestsuite
  rm -rf "$ROOT"
  mv "$ROOT.tmp" "$ROOT"
}

[ -x "$ROOT/usr/local/bin/wstest" ] || build_chroot

echo "== building the conformance echo server"
cargo build --release --example autobahn_echo
./target/release/examples/autobahn_echo "$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

echo "== running wstest -m fuzzingclient"
rm -rf "$ROOT/reports" && mkdir -p "$ROOT/config" "$ROOT/reports"
cp autobahn/fuzzingclient.json "$ROOT/config/"
START=$(date +%s)
in_chroot "$ROOT" /usr/local/bin/wstest -m fuzzingclient -s /config/fuzzingclient.json \
  >/tmp/zocket-wstest.log 2>&1 || { tail -30 /tmp/zocket-wstest.log; exit 1; }
echo "wstest finished in $(( $(date +%s) - START )) s"

python3 - "$ROOT/reports/servers/index.json" <<'PY'
import collections, json, sys
index = json.load(open(sys.argv[1]))["zocket"]
counts = collections.Counter()
bad = []
for case, r in sorted(index.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]):
    counts[r["behavior"]] += 1
    counts["close " + r["behaviorClose"]] += 1
    if r["behavior"] in ("FAILED", "WRONG CODE", "UNCLEAN") or r["behaviorClose"] in ("FAILED", "WRONG CODE", "UNCLEAN"):
        bad.append("%s: %s / close %s" % (case, r["behavior"], r["behaviorClose"]))
lines = ["Autobahn fuzzingclient against zocket (12.* and 13.* test permessage-deflate, which tungstenite does not implement: UNIMPLEMENTED)",
         "cases: %d" % len(index)]
lines += ["%s: %d" % (k, v) for k, v in sorted(counts.items())]
lines += ["bad: %d" % len(bad)] + bad
open("autobahn/summary.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(1 if bad else 0)
PY
