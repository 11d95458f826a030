#!/usr/bin/env python3
"""Wraps plain log lines as container runtimes store them, for
benches/throughput.sh (the same lines, so the rows compare formats only).

    python3 benches/wrap.py docker < plain.log > docker.log
    python3 benches/wrap.py cri < plain.log > cri.log

docker: Docker's json-file driver: {"log":"<line>\\n","stream":"stdout",
"time":"<RFC 3339 nano>"}, the line escaped as Go's encoding/json escapes
it (quotes, backslashes and control bytes; <, > and & as \\u003c, \\u003e,
\\u0026; invalid UTF-8 as U+FFFD).
cri: "<RFC 3339 nano> stdout F <line>" (containerd, CRI-O).
Timestamps advance by a fixed step, so the output is deterministic.
"""
import json
import sys


def stamp(i):
    nanos = i * 1_234_567
    secs, frac = divmod(nanos, 1_000_000_000)
    mins, secs = divmod(secs, 60)
    hours, mins = divmod(mins, 60)
    return "2024-01-01T%02d:%02d:%02d.%09dZ" % (hours % 24, mins, secs, frac)


def main():
    kind = sys.argv[1] if len(sys.argv) == 2 else ""
    if kind not in ("docker", "cri"):
        sys.exit("usage: wrap.py docker|cri < plain.log > wrapped.log")
    out = sys.stdout.buffer
    for i, raw in enumerate(sys.stdin.buffer):
        if not raw.endswith(b"\n"):
            break
        line = raw[:-1].decode("utf-8", errors="replace")
        if kind == "cri":
            out.write(("%s stdout F %s\n" % (stamp(i), line)).encode())
        else:
            log = json.dumps(line + "\n", ensure_ascii=False)
            log = log.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            out.write(('{"log":%s,"stream":"stdout","time":"%s"}\n' % (log, stamp(i))).encode())


if __name__ == "__main__":
    main()
