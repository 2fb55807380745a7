#!/usr/bin/env python3
"""Serve the same image with irpstack, nbdkit (file plugin, and with its cache filter) and
qemu-nbd; drive each with the same client (fio's nbd engine) over a Unix socket; print a
table with ratios against the best peer.

    cargo build --release -p irpstack
    python3 benches/nbd_compare.py [--seconds 5] [--rounds 3] [--size 1G] [--dir target] [--json]

Rows: 4 KiB random write QD32, 4 KiB random read QD32, 1 MiB sequential write QD8,
4 KiB write + flush QD1 (one NBD FLUSH per write), and flushes per second with 8
connections each writing and flushing. Every server keeps the same durability: data is on
stable storage when FLUSH is answered (irpstack's default write-back stack, nbdkit's file
plugin (flush = fdatasync), nbdkit's cache filter in writeback mode, qemu-nbd with
--cache=writeback). Servers are started and killed by PID; only Unix sockets are used.
Each workload runs on every server back to back, each on a fresh start after a sync, in a
rotated order per round; the median of the rounds is reported.

--references adds servers that are NOT durable, to show where the ceiling is on this
machine (never counted as peers): irpstack's same stack with the device sync dropped below
the cache (`fault(flush=drop)`: every write-back round still runs), irpstack over memory,
and nbdkit's null plugin (no storage at all: the NBD transport and the client alone).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IRPSTACK = os.path.join(ROOT, "target", "release", "irpstack")

WORKLOADS = [
    # name, fio arguments, metric
    ("randwrite-4k-qd32", ["--rw=randwrite", "--bs=4k", "--iodepth=32"], "iops"),
    ("randread-4k-qd32", ["--rw=randread", "--bs=4k", "--iodepth=32"], "iops"),
    ("write-1m-qd8", ["--rw=write", "--bs=1m", "--iodepth=8"], "gbps"),
    ("write+flush-4k-qd1", ["--rw=randwrite", "--bs=4k", "--iodepth=1", "--fsync=1"], "iops"),
    ("flushes-8conn", ["--rw=randwrite", "--bs=4k", "--iodepth=1", "--fsync=1", "--numjobs=8", "--group_reporting"], "iops"),
]


def servers(image, sock):
    cache_spec = f"cache(size=256M) / file(path={image})"
    return [
        ("irpstack", [IRPSTACK, "serve", "--socket", sock, "--stack", cache_spec]),
        ("nbdkit-file", ["nbdkit", "--foreground", "--exit-with-parent", "--unix", sock, "file", f"file={image}"]),
        ("nbdkit-cache", ["nbdkit", "--foreground", "--exit-with-parent", "--unix", sock, "--filter=cache",
                          "file", f"file={image}", "cache=writeback"]),
        ("qemu-nbd", ["qemu-nbd", "--persistent", "--shared=16", f"--socket={sock}", "--format=raw",
                      "--cache=writeback", "--aio=io_uring", image]),
    ]


def references(image, sock, size):
    """Servers that are not durable: what the same client reaches without the device sync,
    without storage, and without any work (the transport's own ceiling)."""
    nosync = f"cache(size=256M) / fault(flush=drop) / file(path={image})"
    return [
        ("irp-nosync*", [IRPSTACK, "serve", "--socket", sock, "--stack", nosync]),
        ("irp-memory*", [IRPSTACK, "serve", "--socket", sock, "--stack", f"memory(size={size})"]),
        ("nbdkit-null*", ["nbdkit", "--foreground", "--exit-with-parent", "--unix", sock, "null", f"size={size}"]),
    ]


def start(cmd, sock):
    if os.path.exists(sock):
        os.unlink(sock)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while not os.path.exists(sock):
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited: {proc.stderr.read().decode(errors='replace')}")
        if time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"{cmd[0]} did not create {sock}")
        time.sleep(0.05)
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fio(sock, size, seconds, args):
    cmd = ["fio", "--name=bench", "--ioengine=nbd", f"--uri=nbd+unix:///?socket={sock}",
           f"--size={size}", f"--runtime={seconds}", "--time_based", "--output-format=json"] + args
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]
    side = job["read"] if "--rw=randread" in args else job["write"]
    return {"iops": side["iops"], "gbps": side["bw_bytes"] / 1e9}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="runs per server and workload; the median counts")
    ap.add_argument("--size", default="1G")
    ap.add_argument("--dir", default=os.path.join(ROOT, "target"))
    ap.add_argument("--json", action="store_true", help="one JSON object per row")
    ap.add_argument("--only", help="comma-separated workloads to run (default: all)")
    ap.add_argument("--baseline", metavar="BINARY",
                    help="also run another irpstack binary (e.g. one built from an older commit) on the "
                         "same stack, as irp-baseline~, to compare before and after in one alternating run")
    ap.add_argument("--references", action="store_true",
                    help="also run servers that are not durable (marked *), to show the ceiling here")
    args = ap.parse_args()
    for tool in ["fio", "nbdkit", "qemu-nbd", "qemu-img"]:
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (scripts/test.sh installs it)")
    if not os.path.exists(IRPSTACK):
        sys.exit(f"{IRPSTACK} is missing: cargo build --release -p irpstack")
    workloads = WORKLOADS
    if args.only:
        wanted = args.only.split(",")
        unknown = [w for w in wanted if w not in [name for name, _, _ in WORKLOADS]]
        if unknown:
            sys.exit(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(n for n, _, _ in WORKLOADS)}")
        workloads = [w for w in WORKLOADS if w[0] in wanted]
    os.makedirs(args.dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="nbd-compare-", dir=args.dir)
    image = os.path.join(work, "disk.img")
    sock = os.path.join(work, "nbd.sock")
    results = {}
    try:
        # Written in full once, so no server writes into holes.
        subprocess.run(["qemu-img", "create", "-f", "raw", image, args.size], check=True, capture_output=True)
        subprocess.run(["dd", "if=/dev/zero", f"of={image}", "bs=1M", f"count={int(args.size.rstrip('G')) * 1024}",
                        "conv=notrunc,fsync", "status=none"], check=True)
        # Workload by workload, every server back to back (in a rotated order each round),
        # each on a fresh start after a sync, so that no server inherits another's dirty
        # page cache or runs under different conditions; the median of the rounds counts.
        runs = {}
        all_servers = servers(image, sock) + (references(image, sock, args.size) if args.references else [])
        if args.baseline:
            ours = dict(servers(image, sock))["irpstack"]
            all_servers.append(("irp-baseline~", [args.baseline] + ours[1:]))
        for workload, fio_args, metric in workloads:
            for round_ in range(args.rounds):
                order = all_servers[round_ % len(all_servers):] + all_servers[:round_ % len(all_servers)]
                for name, cmd in order:
                    os.sync()
                    proc = start(cmd, sock)
                    try:
                        r = fio(sock, args.size, args.seconds, fio_args)
                    finally:
                        stop(proc)
                    runs.setdefault((name, workload), []).append(r[metric])
                    print(f"  {name:<13} {workload:<20} {r[metric]:12.2f} {metric}", file=sys.stderr)
        for key, values in runs.items():
            results[key] = statistics.median(values)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peers = [n for n, _ in servers(image, sock) if n != "irpstack"]
    names = [n for n, _ in all_servers]
    rows = []
    for workload, _, metric in workloads:
        best = max(peers, key=lambda p: results[(p, workload)])
        ours = results[("irpstack", workload)]
        ratio = ours / results[(best, workload)] if results[(best, workload)] else float("inf")
        rows.append((workload, metric, {n: results[(n, workload)] for n in names}, best, ratio))
    if args.json:
        for workload, metric, values, best, ratio in rows:
            print(json.dumps({"workload": workload, "metric": metric, **values, "best_peer": best, "ratio": ratio}))
        return
    header = f"{'workload':<20} {'unit':<5}" + "".join(f"{n:>14}" for n in names) + f"  {'vs best peer':>14}"
    print(header)
    for workload, metric, values, best, ratio in rows:
        cells = "".join(f"{values[n]:>14.2f}" if metric == "gbps" else f"{values[n]:>14.0f}" for n in names)
        print(f"{workload:<20} {metric:<5}{cells}  {ratio:>8.2f}x {best}")
    print(f"\nfio nbd engine, Unix socket, {args.seconds} s per run, median of {args.rounds} rounds, "
          f"{args.size} image; ratio = irpstack / best peer")
    if args.references:
        print("* not durable: references for the ceiling on this machine, never counted as peers")
    if args.baseline:
        print(f"~ the same stack served by {args.baseline} (a baseline, never counted as a peer)")


if __name__ == "__main__":
    main()
