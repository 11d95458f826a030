#!/usr/bin/env python3
"""Deterministic log corpus for logscrub's whole-process throughput benchmark.

What it makes: a realistic log stream for measuring redaction filters
(logscrub, and the simple Python/Perl/sed peers) end to end. It cycles the
real loghub lines of tests/data/loghub/*_2k.log (runs of 100 lines per
source), turns ~20% of the lines into JSON application-log lines (some with
non-ASCII UTF-8 names, ~1.5% of all lines; some with 16-digit order ids that
fail Luhn, a realistic near miss), and injects one sensitive value into about
1 line in 200. A manifest with the injected counts per type is written next
to the output (<out>.manifest.json).

How to run (from the repository root; stdlib only, Python 3):

    python3 benches/corpus.py                          # 100 MiB -> target/bench/corpus.log
    python3 benches/corpus.py --size 10M --out /tmp/c.log
    bash benches/throughput.sh 50                      # uses this script

The same seed gives byte-identical output; a smaller --size is a prefix of a
larger one (the file stops after the line that reaches --size).

Adapted from the project's shared bench material (make_corpus.py). Changes:
reads the repository's own loghub copy by default, writes to target/bench/ by
default (the original's default --out was a literal "$CORPUS_DIR/..." path),
makes the 16-digit order ids really fail Luhn (the original drew them at
random, so ~10% passed Luhn and many of those were redacted as cards), uses 4 non-ASCII
names out of 16 (~1.5% of lines) and counts non-ASCII lines in the manifest.

The loghub lines are from the loghub datasets (https://github.com/logpai/loghub),
distributed under the notice in tests/data/loghub/LICENSE: for any usage or
distribution, refer to the loghub repository and cite Zhu et al., "Loghub: A
Large Collection of System Log Datasets for AI-driven Log Analytics", ISSRE
2023. A generated corpus contains those lines: keep it with that notice.
"""
import argparse
import glob
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_LOGHUB = os.path.join(REPO, "tests", "data", "loghub")
DEFAULT_OUT = os.path.join(REPO, "target", "bench", "corpus.log")


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper().rstrip("IB").rstrip("B")
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def luhn_complete(prefix):
    """Append the Luhn check digit to a digit string."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch)
        if i % 2 == 0:  # these become odd positions once the check digit is added
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return prefix + str((10 - total % 10) % 10)


def luhn_break(prefix):
    """Append a check digit that makes the digit string fail Luhn."""
    good = luhn_complete(prefix)[-1]
    return prefix + str((int(good) + 1) % 10)


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
UPPER_NUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
         "ivan", "judy", "mallory", "oscar", "peggy", "trent", "victor", "walter"]
# A few non-ASCII names: real application logs carry UTF-8. 4 of 16 names,
# in 30% of the 20% JSON lines: ~1.5% of all lines carry non-ASCII UTF-8.
NAMES = ["Alice Smith", "Bob Jones", "Carol White", "José Müller", "Zoë Ødegård",
         "Dave Brown", "Erin Taylor", "Frank Moore", "渡辺 健", "Grace Lee",
         "Heidi Klum", "Ivan Petrov", "Judy Chen", "Łukasz Żak", "Oscar Diaz",
         "Peggy Hill"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "gmail.com", "acme.io"]
SERVICES = ["checkout", "billing", "auth", "search", "cart", "notifier", "gateway", "ledger"]
LEVELS = ["INFO"] * 14 + ["DEBUG"] * 4 + ["WARN"] * 2 + ["ERROR"]
PATHS = ["/v1/payments", "/v1/customers", "/v1/charges", "/api/login", "/api/cart/items",
         "/healthz", "/v2/orders", "/v1/subscriptions", "/api/search", "/static/app.js"]
METHODS = ["GET"] * 5 + ["POST"] * 3 + ["PUT", "DELETE"]
STATUSES = [200] * 12 + [201, 204, 302, 400, 401, 403, 404, 500, 503]
MSGS = ["request completed", "payment intent created", "cache miss", "user logged in",
        "retrying upstream call", "order placed", "webhook delivered", "token refreshed",
        "rate limit exceeded", "db query slow", "subscription renewed", "email queued",
        "session expired", "charge captured", "invoice finalized", "connection reset by peer"]
CARDS_PLAIN = ["4242424242424242", "4111111111111111", "5555555555554444",
               "378282246310005", "6011111111111117", "3056930009020004", "5105105105105100"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def s(self, alphabet, n):
        r = self.r
        return "".join(r.choice(alphabet) for _ in range(n))

    # ---- sensitive values: (type, text) ----
    def card(self):
        r = self.r
        k = r.random()
        if k < 0.55:
            c = r.choice(CARDS_PLAIN)
        else:
            c = luhn_complete("4" + self.s("0123456789", 14))
        fmt = r.random()
        if fmt < 0.5 or len(c) != 16:
            return c
        sep = "-" if fmt < 0.8 else " "
        return sep.join(c[i:i + 4] for i in range(0, 16, 4))

    def sensitive(self):
        r = self.r
        k = r.random()
        if k < 0.22:
            return "card", r.choice(["card=", "pan=", "card number ", "cc: "]) + self.card()
        if k < 0.30:
            return "cvv", r.choice(["cvv=", "cvv: ", "CVC=", "cvv2="]) + self.s("0123456789", 3)
        if k < 0.44:
            pre = r.choice(["cus", "cus", "pm", "pi", "sub"])
            return "stripe_id", "%s_%s" % (pre, self.s(ALNUM, 14 if pre == "cus" else 24))
        if k < 0.52:
            pre = r.choice(["sk_live", "sk_live", "rk_live", "whsec"])
            return "stripe_key", "key=%s_%s" % (pre, self.s(ALNUM, 24 if pre != "whsec" else 32))
        if k < 0.68:
            u = r.choice(FIRST) + r.choice(["", ".", "_"]) + r.choice(FIRST) + str(r.randrange(100))
            return "email", "%s@%s" % (u, r.choice(DOMAINS))
        if k < 0.76:
            return "bearer", "Authorization: Bearer " + self.s(B64URL, 40)
        if k < 0.80:
            return "jwt", "token=eyJ%s.eyJ%s.%s" % (self.s(B64URL, 33), self.s(B64URL, 60), self.s(B64URL, 43))
        if k < 0.83:
            return "aws", "aws_access_key_id=AKIA" + self.s(UPPER_NUM, 16)
        if k < 0.86:
            return "github", "ghp_" + self.s(ALNUM, 36)
        if k < 0.88:
            return "slack", "xoxb-%d-%d-%s" % (r.randrange(10**11), r.randrange(10**12), self.s(ALNUM, 24))
        if k < 0.90:
            return "google", "AIza" + self.s(B64URL, 35)
        if k < 0.94:
            return "api_key", r.choice(["api_key=", "apikey: ", "access_token=", "password="]) + self.s(ALNUM, 20)
        if k < 0.97:
            return "ssn", "ssn %03d-%02d-%04d" % (r.randrange(1, 899), r.randrange(1, 99), r.randrange(1, 9999))
        return "bank", r.choice(["account_number=", "acct no: ", "routing=", "routing number: "]) + self.s("0123456789", 9)

    # ---- JSON application log line ----
    def json_line(self, i):
        r = self.r
        ts = "2024-05-%02dT%02d:%02d:%02d.%03dZ" % (1 + (i >> 22) % 28, (i >> 16) % 24, (i >> 10) % 60,
                                                      (i >> 4) % 60, r.randrange(1000))
        d = {
            "ts": ts,
            "level": r.choice(LEVELS),
            "service": r.choice(SERVICES),
            "trace_id": self.s(HEX, 32),
            "span_id": self.s(HEX, 16),
            "msg": r.choice(MSGS),
            "http": {"method": r.choice(METHODS), "path": r.choice(PATHS),
                     "status": r.choice(STATUSES)},
            "duration_ms": round(r.random() * 250, 3),
        }
        k = r.random()
        if k < 0.30:
            d["user_id"] = r.randrange(10**6, 10**7)
            d["customer_name"] = r.choice(NAMES)
        elif k < 0.45:
            # realistic near-miss: 16-digit ids that look like card numbers
            d["order_id"] = luhn_break(str(r.randrange(10**14, 10**15)))
        elif k < 0.55:
            d["amount"] = r.randrange(100, 100000)
            d["currency"] = r.choice(["usd", "eur", "gbp"])
        return d


def load_loghub(root):
    files = sorted(glob.glob(os.path.join(root, "*_2k.log")))
    if len(files) != 16:
        sys.exit("expected 16 loghub *_2k.log files in %s, found %d" % (root, len(files)))
    srcs = []
    for f in files:
        with open(f, encoding="utf-8", errors="surrogateescape") as fh:
            lines = [ln.rstrip("\r\n") for ln in fh if ln.strip()]
        srcs.append(lines)
    return files, srcs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="100M", help="target size, e.g. 10M, 100M, 1G (default 100M)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output file (default target/bench/corpus.log)")
    ap.add_argument("--loghub", default=DEFAULT_LOGHUB)
    ap.add_argument("--seed", type=int, default=20240501)
    ap.add_argument("--json-frac", type=float, default=0.20)
    ap.add_argument("--inject-every", type=int, default=200,
                    help="mean lines per injected value; 1 = every line, 0 = none")
    a = ap.parse_args()

    target = parse_size(a.size)
    files, srcs = load_loghub(a.loghub)
    g = Gen(a.seed)
    r = g.r
    inj_p = 1.0 / a.inject_every if a.inject_every > 0 else 0.0
    counts = {}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)

    # cycle: 100-line runs from each source in turn, continuing where that source stopped
    run_len = 100
    pos = [0] * len(srcs)
    src_i = 0
    in_run = 0
    written = 0
    nlines = njson = ninj = nonascii = 0
    buf = []
    bufbytes = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(a.out, "wb") as out:
        while written + bufbytes < target:
            inject = r.random() < inj_p
            if r.random() < a.json_frac:
                d = g.json_line(nlines)
                if inject:
                    t, v = g.sensitive()
                    counts[t] = counts.get(t, 0) + 1
                    ninj += 1
                    # put the value in a field the way an application would log it
                    if t == "email":
                        d["email"] = v
                    elif t in ("stripe_id",):
                        d["customer"] = v
                    else:
                        d["msg"] = d["msg"] + " " + v
                line = dumps(d)
                njson += 1
            else:
                src = srcs[src_i]
                line = src[pos[src_i] % len(src)]
                pos[src_i] += 1
                in_run += 1
                if in_run == run_len:
                    in_run = 0
                    src_i = (src_i + 1) % len(srcs)
                if inject:
                    t, v = g.sensitive()
                    counts[t] = counts.get(t, 0) + 1
                    ninj += 1
                    sp = [j for j in range(len(line)) if line[j] == " "]
                    if sp and r.random() < 0.5:
                        j = sp[r.randrange(len(sp))]
                        line = line[:j] + " " + v + line[j:]
                    else:
                        line = line + " " + v
            b = line.encode("utf-8", errors="surrogateescape") + b"\n"
            if not b.isascii():
                nonascii += 1
            buf.append(b)
            bufbytes += len(b)
            nlines += 1
            if bufbytes >= (1 << 20):
                out.write(b"".join(buf))
                written += bufbytes
                buf = []
                bufbytes = 0
        out.write(b"".join(buf))
        written += bufbytes
    manifest = {
        "out": a.out, "bytes": os.path.getsize(a.out), "seed": a.seed,
        "json_frac": a.json_frac, "inject_every": a.inject_every,
        "sources": [os.path.basename(f) for f in files],
        "lines": nlines, "json_lines": njson, "non_ascii_lines": nonascii,
        "injected": ninj, "injected_by_type": dict(sorted(counts.items())),
    }
    with open(a.out + ".manifest.json", "w") as fh:
        json.dump(manifest, fh, indent=1)
    print(json.dumps(manifest), file=sys.stderr)


if __name__ == "__main__":
    main()
