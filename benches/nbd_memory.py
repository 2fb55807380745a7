#!/usr/bin/env python3
"""Peak memory of `irpstack serve` under many NBD connections.

    cargo build --release -p irpstack
    python3 benches/nbd_memory.py [--cache 64M] [--connections 1,8,64,128] [--seconds 6]

For each connection count N, a fresh server serves a 1 GiB image through
`cache(size=CACHE) / file(path=IMG)` on a Unix socket, and fio's nbd engine runs N jobs (one
connection each) of 64 KiB random reads and writes, 16 in flight per connection. The table
shows the server's peak resident memory (VmHWM) and what it holds beyond the cache size.
The server is started and killed by PID.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from nbd_compare import IRPSTACK, ROOT, start, stop


def size_bytes(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def run(image, sock, cache, jobs, seconds):
    server = start([IRPSTACK, "serve", "--socket", sock, "--stack", f"cache(size={cache}) / file(path={image})"], sock)
    try:
        subprocess.run(["fio", "--name=mem", "--ioengine=nbd", f"--uri=nbd+unix:///?socket={sock}", "--rw=randrw",
                        "--bs=64k", "--iodepth=16", f"--numjobs={jobs}", "--size=1G", f"--runtime={seconds}",
                        "--time_based", "--group_reporting", "--output-format=terse"],
                       check=True, capture_output=True)
        return peak_kib(server.pid)
    finally:
        stop(server)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="64M")
    ap.add_argument("--connections", default="1,8,64,128")
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--dir", default=os.path.join(ROOT, "target"))
    args = ap.parse_args()
    if not shutil.which("fio"):
        sys.exit("fio is not installed (scripts/test.sh installs it)")
    if not os.path.exists(IRPSTACK):
        sys.exit(f"{IRPSTACK} is missing: cargo build --release -p irpstack")
    os.makedirs(args.dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="nbd-memory-", dir=args.dir)
    try:
        image = os.path.join(work, "disk.img")
        subprocess.run(["dd", "if=/dev/zero", f"of={image}", "bs=1M", "count=1024", "conv=fsync", "status=none"],
                       check=True)
        cache_mib = size_bytes(args.cache) / (1 << 20)
        print(f"{'connections':>11}  {'peak RSS (MiB)':>14}  {'beyond the cache (MiB)':>22}")
        for jobs in [int(n) for n in args.connections.split(",")]:
            peak = run(image, os.path.join(work, "nbd.sock"), args.cache, jobs, args.seconds) / 1024
            print(f"{jobs:>11}  {peak:>14.0f}  {peak - cache_mib:>22.0f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ncache(size={args.cache}) / file, fio nbd engine: 64 KiB randrw QD16 per connection, {args.seconds} s")


if __name__ == "__main__":
    main()
