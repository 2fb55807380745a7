#!/usr/bin/env python3
"""Soak `irpstack serve` for a bounded time with mixed clients, kills and restarts, and
verify every acknowledged flush after each restart.

    cargo build --release -p irpstack
    python3 benches/nbd_soak.py [--minutes 10] [--restart-every 60] [--seed 1] [--dir target]

Loopback only (a Unix socket and 127.0.0.1). Clients, all at once:
- fio (nbd engine) writing and reading at random in the upper half of the image, in loops;
- a verifier (our own small NBD client) writing seeded 4 KiB blocks in the lower half and
  flushing; it remembers what each flush covered;
- slow readers that send reads and then read their replies a byte at a time;
- idle holders that finish the handshake and then send nothing;
- clients that disconnect in the middle of a request (half a header, half a payload);
- malformed input: random bytes, bad magics, absurd lengths, during the handshake and after.

Every --restart-every seconds the server is stopped — SIGKILL (a process crash: what no
flush covered may be lost) or, every third time, SIGTERM (graceful: everything acknowledged
is written) — and started again over the same image; the verifier then reads back every
block it wrote and checks it holds the version its last acknowledged flush covered, or a
version written after that flush (SIGKILL), or its last acknowledged version (SIGTERM).

Prints load held (fio's operations per second), faults survived, bad inputs tried, bytes
verified, and the server's RSS, threads and file descriptors over time. Exit status 1 on
a verification failure, a server that dies by itself or fails a graceful stop.
"""
import argparse
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nbd_wire import CMD_DISC, CMD_FLUSH, CMD_READ, CMD_WRITE, IHAVEOPT, REQUEST_MAGIC, handshake, recv_exact, reply, request  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IRPSTACK = os.path.join(ROOT, "target", "release", "irpstack")

IMAGE_SIZE = 256 << 20
BLOCK = 4096
VERIFY_BLOCKS = 4096  # the verifier's 16 MiB at the start of the image
FIO_OFFSET = IMAGE_SIZE // 2

class Client:
    """A small synchronous NBD client (simple replies)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.size = handshake(self.sock)
        self.cookie = 0

    def _request(self, cmd, offset, length, payload=b""):
        self.cookie += 1
        request(self.sock, cmd, self.cookie, offset, length, payload)
        return reply(self.sock, length if cmd == CMD_READ else 0, self.cookie)

    def write(self, offset, data):
        self._request(CMD_WRITE, offset, len(data), data)

    def read(self, offset, length):
        return self._request(CMD_READ, offset, length)

    def flush(self):
        self._request(CMD_FLUSH, 0, 0)

    def close(self):
        try:
            self.sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC, 0, 0, 0))
        except OSError:
            pass
        self.sock.close()


def block_bytes(block, version):
    """The content of `block` at `version` (0: never written, zeroes)."""
    if version == 0:
        return bytes(BLOCK)
    head = struct.pack(">QQ", block, version)
    return (head * (BLOCK // len(head)))[:BLOCK]


class Verifier:
    """Writes versions of blocks and flushes; checks them after every restart."""

    def __init__(self, rng):
        self.rng = rng
        self.lock = threading.Lock()
        self.acked = {}  # block -> last acknowledged version
        self.flushed = {}  # block -> version the last acknowledged flush covered
        self.since_flush = {}  # block -> versions acknowledged after that flush
        self.next_version = 1
        self.bytes_verified = 0
        self.writes = 0
        self.flushes = 0
        self.failures = []

    def run(self, path, stop):
        while not stop.is_set():
            try:
                c = Client(path)
            except (OSError, RuntimeError):
                time.sleep(0.05)
                continue
            try:
                while not stop.is_set():
                    for _ in range(self.rng.randint(1, 32)):
                        block = self.rng.randrange(VERIFY_BLOCKS)
                        with self.lock:
                            version = self.next_version
                            self.next_version += 1
                            # Sent is enough to be found after a crash: the server may have
                            # written it and died before the reply.
                            self.since_flush.setdefault(block, []).append(version)
                        c.write(block * BLOCK, block_bytes(block, version))
                        with self.lock:
                            self.acked[block] = version
                            self.writes += 1
                    with self.lock:
                        covered = dict(self.acked)
                    c.flush()
                    with self.lock:
                        self.flushes += 1
                        for block, version in covered.items():
                            if self.flushed.get(block, 0) < version:
                                self.flushed[block] = version
                                self.since_flush[block] = [v for v in self.since_flush.get(block, []) if v > version]
            except (OSError, RuntimeError):
                pass  # the server went away mid-request: what was not acknowledged does not count
            finally:
                c.close()

    def check(self, path, graceful):
        """Reads every written block back after a restart."""
        c = Client(path)
        with self.lock:
            blocks = sorted(set(self.acked) | set(self.flushed))
            for block in blocks:
                got = c.read(block * BLOCK, BLOCK)
                if graceful:
                    allowed = {self.acked.get(block, 0)}
                else:
                    allowed = {self.flushed.get(block, 0), *self.since_flush.get(block, [])}
                    # A block never written before reads as zeroes until a write lands.
                if not any(got == block_bytes(block, v) for v in allowed):
                    found = struct.unpack(">QQ", got[:16]) if got[:8] != bytes(8) else (block, 0)
                    self.failures.append(
                        f"block {block}: found version {found[1]}, allowed {sorted(allowed)} "
                        f"({'SIGTERM' if graceful else 'SIGKILL'} restart)"
                    )
                self.bytes_verified += BLOCK
            # What is on disk now is the state to hold.
            for block in blocks:
                got = c.read(block * BLOCK, BLOCK)
                version = struct.unpack(">Q", got[8:16])[0] if got[:8] != bytes(8) else 0
                self.acked[block] = self.flushed[block] = version
                self.since_flush[block] = []
        c.close()


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, name, n=1):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + n


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def slow_reader(path, stop, rng, counters):
    while not stop.is_set():
        try:
            s = connect(path)
            handshake(s)
            for i in range(16):
                s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_READ, i + 1, rng.randrange(VERIFY_BLOCKS) * BLOCK, 65536))
            end = time.time() + rng.uniform(2, 10)
            while time.time() < end and not stop.is_set():
                if not s.recv(1):
                    break
                time.sleep(0.01)
            counters.add("slow readers")
            s.close()
        except (OSError, RuntimeError):
            time.sleep(0.1)


def idle_holder(path, stop, rng, counters):
    while not stop.is_set():
        try:
            s = connect(path)
            handshake(s)
            counters.add("idle holders")
            stop.wait(rng.uniform(5, 40))
            s.close()
        except (OSError, RuntimeError):
            time.sleep(0.1)


def disconnector(path, stop, rng, counters):
    while not stop.is_set():
        try:
            s = connect(path)
            handshake(s)
            header = struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE, 1, FIO_OFFSET - 65536, 65536)
            if rng.random() < 0.5:
                s.sendall(header[: rng.randrange(1, len(header))])
            else:
                s.sendall(header + os.urandom(rng.randrange(1, 65536)))
            s.close()
            counters.add("disconnects mid-request")
        except (OSError, RuntimeError):
            pass
        stop.wait(0.05)


def malformed(path, stop, rng, counters):
    kinds = ["random bytes", "bad request magic", "absurd length", "bad option", "garbage in handshake"]
    while not stop.is_set():
        kind = rng.choice(kinds)
        try:
            s = connect(path, timeout=3)
            if kind == "garbage in handshake":
                recv_exact(s, 18)
                s.sendall(os.urandom(rng.randrange(1, 200)))
            elif kind == "bad option":
                recv_exact(s, 18)
                s.sendall(struct.pack(">I", 3) + struct.pack(">QII", IHAVEOPT, rng.randrange(1 << 32), 1 << 31))
            else:
                handshake(s)
                if kind == "random bytes":
                    s.sendall(os.urandom(rng.randrange(1, 4096)))
                elif kind == "bad request magic":
                    s.sendall(struct.pack(">IHHQQI", 0xDEADBEEF, 0, CMD_READ, 1, 0, 4096))
                else:
                    s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE, 1, 0, 0xFFFFFFF0))
            try:
                s.recv(4096)
            except OSError:
                pass
            s.close()
            counters.add(f"bad input: {kind}")
        except (OSError, RuntimeError):
            pass
        stop.wait(0.02)


def fio_loop(path, stop, counters, ops):
    uri = f"nbd+unix:///?socket={path}"
    while not stop.is_set():
        out = subprocess.run(
            ["fio", "--name=soak", "--ioengine=nbd", f"--uri={uri}", "--rw=randrw", "--bs=4k", "--iodepth=8",
             f"--offset={FIO_OFFSET}", f"--size={IMAGE_SIZE - FIO_OFFSET}", "--runtime=10", "--time_based",
             "--fsync=64", "--output-format=terse", "--terse-version=3"],
            capture_output=True, text=True)
        fields = out.stdout.strip().split(";")
        if out.returncode == 0 and len(fields) > 48:
            # terse v3: read total I/Os at 5+... use IOPS fields: read iops [7], write iops [48]
            try:
                ops.append(float(fields[7]) + float(fields[48]))
            except ValueError:
                pass
            counters.add("fio runs")
        else:
            counters.add("fio runs cut by a restart")


class Server:
    def __init__(self, binary, workdir, socket_path, cache):
        self.binary, self.workdir, self.socket_path, self.cache = binary, workdir, socket_path, cache
        self.proc = None
        self.log = open(os.path.join(workdir, "server.log"), "ab")

    def start(self):
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        stack = f"{self.cache} / file(path={os.path.join(self.workdir, 'soak.img')},size={IMAGE_SIZE})"
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--socket", self.socket_path, "--stack", stack, "--data-dir", self.workdir,
             "--idle-timeout", "20s"],
            stdout=subprocess.PIPE, stderr=self.log)
        for line in self.proc.stdout:
            if line.startswith(b"listening on"):
                break
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def stop(self, sig):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("the server did not exit within 60 s of a signal")

    def sample(self):
        pid = self.proc.pid
        try:
            status = open(f"/proc/{pid}/status").read()
            rss = int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1])
            threads = int(next(l for l in status.splitlines() if l.startswith("Threads:")).split()[1])
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            return rss, threads, fds
        except (OSError, StopIteration):
            return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--restart-every", type=float, default=60, help="seconds between server restarts")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dir", default=os.path.join(ROOT, "target"))
    p.add_argument("--binary", default=IRPSTACK)
    p.add_argument("--cache", default="cache(size=64M)",
                   help="the layer over the file disk; `cache(size=64M,mode=unsafe)` (flushes ignored) must FAIL: "
                        "it shows the verifier catches lost flushes")
    args = p.parse_args()
    for tool in ["fio"]:
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            sys.exit(f"{tool} is needed")
    os.makedirs(args.dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="nbd-soak-", dir=args.dir)
    sock = os.path.join(workdir, "nbd.sock")
    rng = random.Random(args.seed)
    server = Server(args.binary, workdir, sock, args.cache)
    server.start()
    verifier = Verifier(random.Random(rng.random()))
    counters = Counters()
    fio_ops = []
    samples = []  # (t, rss KiB, threads, fds)
    restarts = {"SIGKILL": 0, "SIGTERM": 0}
    started = time.time()
    end = started + args.minutes * 60
    problems = []
    while time.time() < end and not problems:
        stop = threading.Event()
        workers = [threading.Thread(target=verifier.run, args=(sock, stop))]
        workers.append(threading.Thread(target=fio_loop, args=(sock, stop, counters, fio_ops)))
        for i in range(2):
            workers.append(threading.Thread(target=slow_reader, args=(sock, stop, random.Random(rng.random()), counters)))
        for i in range(4):
            workers.append(threading.Thread(target=idle_holder, args=(sock, stop, random.Random(rng.random()), counters)))
        workers.append(threading.Thread(target=disconnector, args=(sock, stop, random.Random(rng.random()), counters)))
        workers.append(threading.Thread(target=malformed, args=(sock, stop, random.Random(rng.random()), counters)))
        for w in workers:
            w.daemon = True
            w.start()
        period_end = min(end, time.time() + args.restart_every)
        while time.time() < period_end:
            time.sleep(5)
            if server.proc.poll() is not None:
                problems.append(f"the server exited by itself (status {server.proc.returncode}); see {workdir}/server.log")
                break
            s = server.sample()
            if s:
                samples.append((time.time() - started, *s))
        if problems:
            stop.set()
            break
        graceful = (restarts["SIGKILL"] + restarts["SIGTERM"]) % 3 == 2
        sig = signal.SIGTERM if graceful else signal.SIGKILL
        if graceful:
            stop.set()  # a graceful stop is checked for everything acknowledged: stop writing first
            workers[0].join(timeout=30)
        status = server.stop(sig)
        stop.set()
        if graceful and status != 0:
            problems.append(f"SIGTERM: the server exited with status {status}")
        restarts["SIGTERM" if graceful else "SIGKILL"] += 1
        for w in workers:
            w.join(timeout=30)
        server.start()
        verifier.check(sock, graceful)
        if verifier.failures:
            problems.extend(verifier.failures[:10])
        elapsed = time.time() - started
        rss = samples[-1][1] / 1024 if samples else 0
        print(f"{elapsed:6.0f} s: restart {sum(restarts.values())} ({sig.name}), {verifier.bytes_verified >> 20} MiB verified, "
              f"RSS {rss:.0f} MiB", flush=True)
    server.stop(signal.SIGTERM)

    duration = time.time() - started
    print()
    print(f"soak: {duration / 60:.1f} minutes, seed {args.seed}, image {IMAGE_SIZE >> 20} MiB, {args.cache} / file")
    if fio_ops:
        print(f"load held: fio randrw 4 KiB QD8 with an fsync every 64: median {sorted(fio_ops)[len(fio_ops) // 2]:.0f} "
              f"ops/s over {len(fio_ops)} runs of 10 s")
    print(f"verifier: {verifier.writes} writes, {verifier.flushes} flushes acknowledged, "
          f"{verifier.bytes_verified >> 20} MiB verified after restarts")
    print(f"faults survived: {restarts['SIGKILL']} SIGKILL and {restarts['SIGTERM']} SIGTERM restarts")
    for name, n in sorted(counters.counts.items()):
        print(f"  {name}: {n}")
    if samples:
        print("server RSS / threads / fds over time (each restart starts a new process):")
        step = max(1, len(samples) // 12)
        for t, rss, threads, fds in samples[::step]:
            print(f"  {t:6.0f} s  {rss / 1024:7.1f} MiB  {threads:4d} threads  {fds:4d} fds")
        peak = max(s[1] for s in samples) / 1024
        print(f"peak RSS {peak:.1f} MiB")
    if problems:
        print("\nFAILED:")
        for p in problems:
            print(f"  {p}")
        sys.exit(1)
    print("\nno acknowledged flush lost; the server survived every bad input")


if __name__ == "__main__":
    main()
