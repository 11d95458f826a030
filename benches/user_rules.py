#!/usr/bin/env python3
"""Generates a pattern file of N plausible user rules, for the rule-count
scaling benchmark (benches/scaling.sh).

Each rule is distinct and anchored on a literal, the way in-house secrets
usually are: an id or key prefix followed by a token
(`\\bacme7_[A-Za-z0-9]{20,}\\b`), or a keyword followed by a value
(`(?i)\\bzeta3[_-]?secret[ \\t]*[:=][ \\t]*(?P<secret>[A-Za-z0-9]{12,})`),
or a fixed-layout internal number (`\\bEMP-[0-9]{6}\\b`). Prefixes are
drawn from a fixed seed, so the file is reproducible.

    python3 benches/user_rules.py 102 > /tmp/user.toml
"""
import random
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 34
r = random.Random(20240601)
CONS = "bcdfghjklmnpqrstvwxz"
VOW = "aeiou"


def word(n):
    return "".join(r.choice(CONS) + r.choice(VOW) for _ in range(n))[: n * 2 - r.randrange(2)]


seen = set()
print('family = "bench_user"')
print('description = "Generated user rules for the rule-count scaling benchmark."')
for i in range(N):
    while True:
        w = word(r.randrange(2, 4)) + str(r.randrange(10))
        if w not in seen:
            seen.add(w)
            break
    kind = i % 3
    if kind == 0:
        regex = r"\b%s_[A-Za-z0-9]{%d,}\b" % (w, r.randrange(16, 33))
    elif kind == 1:
        key = r.choice(["secret", "token", "key", "pass", "pin"])
        regex = r"(?i)\b%s[_-]?%s[ \t]*[:=][ \t]*(?P<secret>[A-Za-z0-9]{12,})" % (w, key)
    else:
        regex = r"\b%s-[0-9]{%d}\b" % (w.upper(), r.randrange(6, 11))
    print()
    print("[[rule]]")
    print('id = "user_%03d"' % i)
    print('description = "Generated rule %d."' % i)
    print("regex = '''%s'''" % regex)
    print('label = "[USER_SECRET_REDACTED]"')
