#!/usr/bin/env python3
"""What one `fdatasync` costs on this machine's disk, by how many 4 KiB blocks it must write.

    python3 benches/fdatasync_cost.py [--dir target] [--rounds 3000] [--blocks 0,1,4,8]

Each round writes N random 4 KiB blocks of a 256 MiB file (written in full first, so no
round allocates) with `pwrite`, then calls `fdatasync`; the table gives the wall time and
the process's CPU time (user + system) per round. Interrupts and kernel threads that finish
the device writes are not in the CPU column. The Python loop adds about 1 us per call.
This is the cost a flush round pays below the cache; NBD servers that flush per request
(nbdkit's file plugin) pay it once per flush.
"""
import argparse
import os
import random
import resource
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE_SIZE = 256 << 20
BLOCK = 4096


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(fd, blocks, rounds, rng):
    data = bytes(range(256)) * (BLOCK // 256)
    offsets = [[rng.randrange(FILE_SIZE // BLOCK) * BLOCK for _ in range(blocks)] for _ in range(rounds)]
    t0, c0 = time.perf_counter(), cpu_seconds()
    for round_offsets in offsets:
        for offset in round_offsets:
            os.pwrite(fd, data, offset)
        os.fdatasync(fd)
    t1, c1 = time.perf_counter(), cpu_seconds()
    return (t1 - t0) / rounds * 1e6, (c1 - c0) / rounds * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.path.join(ROOT, "target"), help="where the scratch file goes")
    ap.add_argument("--rounds", type=int, default=3000)
    ap.add_argument("--blocks", default="0,1,4,8", help="dirty blocks per fdatasync, comma-separated")
    args = ap.parse_args()
    try:
        counts = [int(b) for b in args.blocks.split(",")]
    except ValueError:
        ap.error(f"--blocks wants comma-separated counts, not {args.blocks!r}")
    if args.rounds < 1 or any(c < 0 for c in counts):
        ap.error("--rounds must be at least 1 and --blocks counts not negative")
    os.makedirs(args.dir, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=args.dir, prefix="fdatasync-cost-") as f:
        chunk = b"\0" * (1 << 20)
        for _ in range(FILE_SIZE // len(chunk)):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
        rng = random.Random(1)
        print(f"{'blocks':>6}  {'wall us/round':>13}  {'cpu us/round':>12}")
        for blocks in counts:
            wall, cpu = measure(f.fileno(), blocks, args.rounds, rng)
            print(f"{blocks:>6}  {wall:>13.1f}  {cpu:>12.1f}")


if __name__ == "__main__":
    main()
