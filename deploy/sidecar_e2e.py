#!/usr/bin/env python3
"""Helpers for deploy/sidecar-e2e.sh, which plays the sidecar pod on one machine.

  args MANIFEST LOGDIR METRICS_ADDR
      Print, one per line, the arguments of the logscrub container in the
      manifest (the native sidecar: an init container with restartPolicy
      Always), with its log volume's mountPath replaced by LOGDIR and the
      --metrics-addr host replaced by METRICS_ADDR (loopback only here).
  app LOGDIR LINES ROTATE_BYTES MAX_FILES CTRL [MODE PID]
      The application: writes LINES numbered lines, some with card numbers,
      Stripe keys and e-mails, to LOGDIR/app.log and rotates it as the
      kubelet rotates container logs; the last 2,000 lines come as one fast
      burst. Writes "rotations compressed deleted" to CTRL/app-stats. With
      MODE (deletion, restart, rotated-restart: see run_app), sends SIGTERM
      to the process PID at the scenario's moment, writes "TIME LINE" to
      CTRL/term-at, and for the restarts waits for CTRL/restarted.
  watch PID OUT
      Poll the process PID every 10 ms until it has exited (or is a zombie),
      then write "PEAK_RSS_KB EXIT_TIME" to the file OUT: the peak resident
      set (VmHWM) at the last poll, and the time it was first seen gone.
  check OUTPUT LINES
      Check the sidecar's output: every line exactly once, in order, byte for
      byte the expected redacted line; print figures, the last line being
      "counts: output=N lost=N duplicated=N reordered=N"; exit 1 on failure.
  selftest
      Check the parts that need no logscrub: the line generator and the
      expected redactions agree, and the args extraction finds the sidecar.

Kubelet rotation (pkg/kubelet/logs/container_log_manager.go), mirrored by
`app`: when the live file exceeds the size limit, (1) remove the oldest
rotated files so that at most MAX_FILES files remain with the new one,
(2) gzip every rotated file not yet compressed (write NAME.tmp, rename to
NAME.gz, delete NAME), (3) rename the live file to NAME.<YYYYmmdd-HHMMSS>,
(4) the runtime reopens: it keeps writing to the renamed file until it
reopens, so the lines of the next ~100 ms land there after the rename. Rotated names have a
one-second resolution, so `app` never rotates twice in the same second
(the kubelet checks every 10 s).
"""

import gzip
import os
import pathlib
import re
import shutil
import signal
import sys
import time

import yaml

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
RAW_SECRETS = [b"4111 1111 1111 1111", b"4111111111111111", b"5555555555554444",
               b"sk_live_", b"@example.com"]


def stripe_key(i):
    return "sk_live_" + "".join(ALNUM[(i * 7 + k * 13) % 62] for k in range(24))


def line(i):
    """(raw line, expected redacted line) for line number i, with newline."""
    seq = f"seq={i:07d}"
    if i % 7 == 0:
        raw = f"{seq} INFO payment accepted card 4111 1111 1111 1111 amount=12.50"
        exp = f"{seq} INFO payment accepted card [CARD_REDACTED] amount=12.50"
    elif i % 11 == 0:
        raw = f"{seq} INFO mastercard 5555555555554444 charged"
        exp = f"{seq} INFO mastercard [CARD_REDACTED] charged"
    elif i % 13 == 0:
        raw = f"{seq} DEBUG stripe key {stripe_key(i)} loaded"
        exp = f"{seq} DEBUG stripe key [STRIPE_SECRET_KEY_REDACTED] loaded"
    elif i % 17 == 0:
        raw = f"{seq} INFO receipt sent to alice.{i}@example.com"
        exp = f"{seq} INFO receipt sent to [EMAIL_REDACTED]"
    elif i % 19 == 0:
        raw = ('{"seq":%d,"level":"info","msg":"refund","email":"bob.%d@example.com",'
               '"card":"4111111111111111"}' % (i, i))
        exp = ('{"seq":%d,"level":"info","msg":"refund","email":"[EMAIL_REDACTED]",'
               '"card":"[CARD_REDACTED]"}' % i)
    else:
        raw = exp = f"{seq} INFO request served path=/api/orders/{i} status=200 bytes={i % 9973}"
    return (raw + "\n").encode(), (exp + "\n").encode()


SEQ = re.compile(rb'seq[=":]+0*(\d+)')


def seq_of(data):
    m = SEQ.search(data)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- args


def sidecar_args(manifest, logdir, metrics_addr):
    with open(manifest, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("initContainers", []):
            if "logscrub" in c.get("image", "") and c.get("restartPolicy") == "Always":
                mounts = c.get("volumeMounts", [])
                if len(mounts) != 1:
                    raise SystemExit(f"{manifest}: expected one volume mount, found {len(mounts)}")
                mount = mounts[0]["mountPath"].rstrip("/")
                out = []
                for arg in map(str, c.get("args", [])):
                    if arg == mount or arg.startswith(mount + "/"):
                        arg = logdir.rstrip("/") + arg[len(mount):]
                    out.append(arg)
                i = out.index("--metrics-addr")
                out[i + 1] = metrics_addr
                return out
    raise SystemExit(f"{manifest}: no logscrub native sidecar (init container, restartPolicy: Always)")


# ---------------------------------------------------------------- app


class RotatingWriter:
    def __init__(self, logdir, rotate_bytes, max_files):
        self.dir = pathlib.Path(logdir)
        self.path = self.dir / "app.log"
        self.rotate_bytes = rotate_bytes
        self.max_files = max_files
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self.fd).st_size
        self.rotations = 0
        self.compressed = 0
        self.deleted = 0
        self.last_name = None

    def rotated(self):
        """Rotated generations, oldest first (names sort by their timestamp)."""
        return sorted(p for p in self.dir.iterdir()
                      if p.name.startswith("app.log.") and not p.name.endswith(".tmp"))

    def rotate(self):
        # (1) keep at most max_files files including the new live one.
        gens = self.rotated()
        while len(gens) > self.max_files - 2:
            gens.pop(0).unlink()
            self.deleted += 1
        # (2) compress every rotated generation (the live file is not one).
        for p in gens:
            if p.suffix != ".gz":
                tmp = p.with_name(p.name + ".tmp")
                with open(p, "rb") as src, gzip.open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                tmp.rename(p.with_name(p.name + ".gz"))
                p.unlink()
                self.compressed += 1
        # (3) rename the live file, one name per second.
        while True:
            name = "app.log." + time.strftime("%Y%m%d-%H%M%S")
            if name != self.last_name:
                break
            time.sleep(0.05)
        self.last_name = name
        os.rename(self.path, self.dir / name)
        self.rotations += 1
        return self.fd  # (4) the caller writes a few lines more, then reopens

    def reopen(self, old_fd):
        os.close(old_fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = 0

    def write(self, data, split=False):
        if split:
            # A line written in two pieces, as a block-buffered logger does:
            # a reader at EOF sees half a line for a moment.
            half = len(data) // 2
            os.write(self.fd, data[:half])
            time.sleep(0.002)
            os.write(self.fd, data[half:])
        else:
            os.write(self.fd, data)
        self.size += len(data)


def run_app(logdir, lines, rotate_bytes, max_files, ctrl, mode="none", pid=None):
    """The application; `mode` says when it sends SIGTERM to logscrub (`pid`).

    deletion         right after its last write;
    restart          once a third of the lines are written, between two
                     rotations; it goes on writing, slower and without
                     rotating, until CTRL/restarted exists (logscrub runs
                     again);
    rotated-restart  at the first rotation after a third of the lines: right
                     after the rename, before any late line lands in the
                     renamed file and before the writer reopens app.log; it
                     waits for CTRL/restarted, then writes the late lines to the
                     renamed file and reopens, as a writer that reopens lazily.
    Each time, it writes "TIME LINE" (when SIGTERM was sent, the last line
    written) to CTRL/term-at.
    """
    ctrl = pathlib.Path(ctrl)
    w = RotatingWriter(logdir, rotate_bytes, max_files)
    lag = 0  # lines still to write to the renamed file before reopening
    old_fd = None
    start = time.monotonic()
    burst = max(lines - 2000, 1)  # the last lines come as one fast burst
    signalled = waiting = False

    def terminate(i):
        sent = time.time()
        os.kill(pid, signal.SIGTERM)
        tmp = ctrl / "term-at.tmp"
        tmp.write_text(f"{sent:.6f} {i}\n")
        tmp.rename(ctrl / "term-at")

    def restarted():
        return (ctrl / "restarted").exists()

    def wait_restarted():
        deadline = time.monotonic() + 60
        while not restarted():
            if time.monotonic() > deadline:
                raise SystemExit("app: logscrub was not restarted within 60 s")
            time.sleep(0.01)

    for i in range(1, lines + 1):
        raw, _ = line(i)
        if lag:
            # The runtime reopens the file some time after the rename: the
            # lines of those ~100 ms land in the rotated file, the last one
            # just before the reopen.
            time.sleep(0.004)
        w.write(raw, split=(i % 997 == 0))
        if lag:
            lag -= 1
            if lag == 0:
                w.reopen(old_fd)
        elif w.size >= rotate_bytes and not waiting:
            old_fd = w.rotate()
            lag = 25
            if mode == "rotated-restart" and not signalled and i >= lines // 3:
                signalled = True
                terminate(i)
                wait_restarted()
        if mode == "restart" and not signalled and i >= lines // 3 and not lag:
            signalled = waiting = True
            terminate(i)
        if waiting:
            # A trickle while logscrub is down: some lines to resume from
            # the checkpoint, without outrunning the restart.
            waiting = not restarted()
            time.sleep(0.001)
        if i % 2000 == 0 and i < burst:
            time.sleep(0.001)  # let the follower interleave with the writer
    if lag:
        w.reopen(old_fd)
    os.close(w.fd)
    if mode == "deletion":
        # Stricter than the kubelet, which notices the exit only later: the
        # sidecar's SIGTERM follows the application's last write at once.
        terminate(lines)
    elif waiting:
        wait_restarted()
    secs = time.monotonic() - start
    (ctrl / "app-stats").write_text(f"{w.rotations} {w.compressed} {w.deleted}\n")
    print(f"app: wrote {lines} lines in {secs:.1f} s, {w.rotations} rotations "
          f"({w.compressed} compressed, {w.deleted} deleted), "
          f"kept: {' '.join(p.name for p in w.rotated())}", file=sys.stderr)


# ---------------------------------------------------------------- watch


def watch(pid, out):
    peak = 0
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            if state in (b"Z", b"X"):
                break
            with open(f"/proc/{pid}/status", "rb") as f:
                for row in f:
                    if row.startswith(b"VmHWM:"):
                        peak = max(peak, int(row.split()[1]))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            break
        time.sleep(0.01)
    pathlib.Path(out).write_text(f"{peak} {time.time():.6f}\n")


# ---------------------------------------------------------------- check


def check(output, lines, show=5):
    data = pathlib.Path(output).read_bytes()
    out_lines = data.splitlines(keepends=True)
    seen = {}
    order_breaks = 0
    mismatches = []
    unnumbered = 0
    last = 0
    for n, got in enumerate(out_lines, 1):
        s = seq_of(got)
        if s is None or not 1 <= s <= lines:
            unnumbered += 1
            if len(mismatches) < show:
                mismatches.append(f"output line {n}: no line number: {got[:120]!r}")
            continue
        seen[s] = seen.get(s, 0) + 1
        if s <= last:
            order_breaks += 1
        last = max(last, s)
        want = line(s)[1]
        if got != want and len(mismatches) < show:
            mismatches.append(f"line {s}: got {got[:140]!r}, want {want[:140]!r}")
    lost = [s for s in range(1, lines + 1) if s not in seen]
    dup = [s for s, c in seen.items() if c > 1]
    leaked = [sec.decode() for sec in RAW_SECRETS if sec in data]
    bad = sum(1 for n, got in enumerate(out_lines)
              if (s := seq_of(got)) and 1 <= s <= lines and got != line(s)[1])
    labels = {lab: data.count(lab.encode()) for lab in
              ("[CARD_REDACTED]", "[STRIPE_SECRET_KEY_REDACTED]", "[EMAIL_REDACTED]")}
    want_labels = {"[CARD_REDACTED]": 0, "[STRIPE_SECRET_KEY_REDACTED]": 0, "[EMAIL_REDACTED]": 0}
    for i in range(1, lines + 1):
        exp = line(i)[1]
        for lab in want_labels:
            want_labels[lab] += exp.count(lab.encode())
    print(f"lines expected {lines}, output {len(out_lines)}, lost {len(lost)}, "
          f"duplicated {len(dup)}, out of order {order_breaks}, unnumbered {unnumbered}, "
          f"not byte-exact {bad}")
    print("labels: " + ", ".join(f"{k} {labels[k]}/{want_labels[k]}" for k in labels))
    ok = True
    if lost:
        ok = False
        print(f"FAIL lost {len(lost)} lines, first: {lost[:10]}")
    if dup:
        ok = False
        print(f"FAIL duplicated {len(dup)} lines, first: {sorted(dup)[:10]}")
    if order_breaks:
        ok = False
        print(f"FAIL {order_breaks} lines out of order")
    if unnumbered or bad:
        ok = False
    for m in mismatches:
        print(f"FAIL {m}")
    if leaked:
        ok = False
        print(f"FAIL raw secrets in the output: {leaked}")
    if labels != want_labels:
        ok = False
        print("FAIL label counts differ from the expected redactions")
    if not data.endswith(b"\n") and data:
        ok = False
        print("FAIL output ends with a partial line")
    print(f"counts: output={len(out_lines)} lost={len(lost)} duplicated={len(dup)} "
          f"reordered={order_breaks}")
    return ok


def selftest():
    ok = True
    for i in range(1, 2000):
        raw, exp = line(i)
        if seq_of(raw) != i or seq_of(exp) != i:
            print(f"FAIL selftest: line {i} number not recoverable")
            ok = False
        if any(sec in exp for sec in RAW_SECRETS):
            print(f"FAIL selftest: expected line {i} holds a secret")
            ok = False
    return ok


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "args" and len(sys.argv) == 5:
        for arg in sidecar_args(sys.argv[2], sys.argv[3], sys.argv[4]):
            print(arg)
    elif cmd == "app" and len(sys.argv) in (7, 9):
        run_app(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6],
                *([sys.argv[7], int(sys.argv[8])] if len(sys.argv) == 9 else []))
    elif cmd == "watch" and len(sys.argv) == 4:
        watch(int(sys.argv[2]), sys.argv[3])
    elif cmd == "check" and len(sys.argv) == 4:
        sys.exit(0 if check(sys.argv[2], int(sys.argv[3])) else 1)
    elif cmd == "expected" and len(sys.argv) == 3:
        out = sys.stdout.buffer
        for i in range(1, int(sys.argv[2]) + 1):
            out.write(line(i)[1])
    elif cmd == "raw" and len(sys.argv) == 3:
        out = sys.stdout.buffer
        for i in range(1, int(sys.argv[2]) + 1):
            out.write(line(i)[0])
    elif cmd == "selftest":
        sys.exit(0 if selftest() else 1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
