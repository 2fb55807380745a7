#!/usr/bin/env python3
"""Fairness of `irpstack serve` with clients that stop reading their replies (issue 13).

    cargo build --release -p irpstack
    python3 benches/nbd_fairness.py [--slow 16] [--rounds 10] [--binary PATH]

A server serves a 1 GiB sparse image through `cache(size=256M) / file(path=IMG)` on a Unix
socket. SLOW clients connect and each pipelines 64 reads of 1 MiB without ever reading a
reply: together they hold the server's whole budget for bytes in flight (64 MiB). Then, each
round, a fresh client connects and times a 1 MiB read, a 64 KiB write of a round-specific
pattern and a flush. The target is under 1 s every round (before fair shares and the stall
timeout, 59 s: the slow clients were cut off only by the 60 s reply timeout).

Nothing acknowledged is lost: every round reads back what the round before wrote and flushed;
after the last round the server is stopped (SIGTERM) and the image must hold the last
round's write. Exit status 1 when a round misses the target or a check fails. The server is
started and stopped by PID; clients use only the Unix socket.
"""
import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nbd_wire import CMD_FLUSH, CMD_READ, CMD_WRITE, handshake, recv_exact, reply, request  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IRPSTACK = os.path.join(ROOT, "target", "release", "irpstack")

MIB = 1 << 20


def connect(sock_path, timeout=30.0):
    """A connection through the handshake (fixed newstyle, NBD_OPT_GO on the default export)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    handshake(s)
    return s


def slow_client(sock_path):
    s = connect(sock_path)
    for cookie in range(64):
        request(s, CMD_READ, cookie, 0, MIB)  # 28 bytes each: the send never blocks
    return s


def start(cmd, sock_path):
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while not os.path.exists(sock_path):
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read().decode(errors='replace')}")
        if time.time() > deadline:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            raise RuntimeError("the server did not create its socket")
        time.sleep(0.05)
    return proc


def stop(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            raise RuntimeError("the server did not stop within 30 s of SIGTERM")
    return proc.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slow", type=int, default=16, help="clients that never read their replies")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--target", type=float, default=1.0, help="seconds a round may take")
    ap.add_argument("--binary", default=IRPSTACK)
    ap.add_argument("--dir", default=os.path.join(ROOT, "target"))
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} is missing: cargo build --release -p irpstack")
    os.makedirs(args.dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="nbd-fairness-", dir=args.dir)
    failures = []
    try:
        image = os.path.join(work, "disk.img")
        sock_path = os.path.join(work, "nbd.sock")
        stack = f"cache(size=256M) / file(path={image},size=1G)"
        server = start([args.binary, "serve", "--socket", sock_path, "--stack", stack], sock_path)
        try:
            slow = [slow_client(sock_path) for _ in range(args.slow)]
            time.sleep(1.0)  # their replies fill their sockets; their bytes fill the budget
            print(f"{args.slow} clients pipeline 64 x 1 MiB reads and never read a reply")
            print(f"{'round':>5}  {'read 1M (s)':>11}  {'write 64K (s)':>13}  {'flush (s)':>9}  {'total (s)':>9}")
            worst = 0.0
            previous = None
            for rnd in range(args.rounds):
                pattern = bytes([rnd + 1]) * (64 << 10)
                c = connect(sock_path)
                t0 = time.monotonic()
                request(c, CMD_READ, 1, 0, MIB)
                data = reply(c, MIB)
                t1 = time.monotonic()
                request(c, CMD_WRITE, 2, 0, len(pattern), pattern)
                reply(c)
                t2 = time.monotonic()
                request(c, CMD_FLUSH, 3)
                reply(c)
                t3 = time.monotonic()
                c.close()
                total = t3 - t0
                worst = max(worst, total)
                mark = "" if total < args.target else "  <- over the target"
                print(f"{rnd:>5}  {t1 - t0:>11.3f}  {t2 - t1:>13.3f}  {t3 - t2:>9.3f}  {total:>9.3f}{mark}", flush=True)
                if total >= args.target:
                    failures.append(f"round {rnd} took {total:.3f} s")
                if previous is not None and data[: len(previous)] != previous:
                    failures.append(f"round {rnd} did not read back the flushed write of round {rnd - 1}")
                previous = pattern
            print(f"worst round: {worst:.3f} s (target < {args.target} s)")
            for s in slow:
                s.close()
        finally:
            status = stop(server)
        if status != 0:
            failures.append(f"the server exited with status {status}")
        with open(image, "rb") as f:
            if previous is not None and f.read(len(previous)) != previous:
                failures.append("the image lacks the last acknowledged and flushed write")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print(f"FAIL: {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
