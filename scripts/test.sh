#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (run as root, apt-get works),
# then runs every test: formatting, lints (x86_64 and aarch64), the whole test suite, and
# the irp tests built for aarch64 and run under qemu-aarch64 (user mode).
#
#   scripts/test.sh            # everything
#   SKIP_INSTALL=1 scripts/test.sh   # don't touch system packages
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# cargo asks rustc about each target by compiling stdin (`rustc - --print=...`); a stdin
# holding text (a CI runner's, or a /dev/null that a process running as root replaced with
# a regular file) makes that probe fail ("unknown start of token") and cargo caches the
# failure. Make /dev/null the null device again if it is not, and read stdin from it.
if [ ! -c /dev/null ] && [ "$(id -u)" -eq 0 ]; then
    rm -f /dev/null && mknod -m 666 /dev/null c 1 3
    echo "note: /dev/null was not the null device; recreated it" >&2
fi
exec </dev/null

# Skipped tests: every test that skips (a tool is missing, ...) appends a `SKIP:` line to
# this file through irp::testing::skip (cargo test captures what passing tests print, so
# the log goes through a file); the list is printed when the script ends, pass or fail.
SKIP_LOG="$(mktemp -t irpstack-skips.XXXXXX)"
export IRPSTACK_SKIP_LOG="$SKIP_LOG"
report_skips() {
    local n
    n="$(sort -u "$SKIP_LOG" | grep -c . || true)"
    if [ "$n" -eq 0 ]; then
        log "no test skipped"
    else
        log "$n test$([ "$n" -eq 1 ] || echo s) skipped:"
        sort -u "$SKIP_LOG" | sed 's/^SKIP: /  /'
    fi
    rm -f "$SKIP_LOG"
}
trap report_skips EXIT

install_system_packages() {
    # command that must exist -> Debian package providing it
    local -A wanted=(
        [qemu-io]=qemu-utils
        [qemu-nbd]=qemu-utils
        [nbdkit]=nbdkit
        [openssl]=openssl
        [nbdinfo]=libnbd-bin
        [nbdcopy]=libnbd-bin
        [fio]=fio
        [sqlite3]=sqlite3
        [fusermount3]=fuse3
        [git]=git
        [setfattr]=attr
        [getfattr]=attr
        [mkfs.ext4]=e2fsprogs
        [debugfs]=e2fsprogs
        [e2fsck]=e2fsprogs
        [aarch64-linux-gnu-gcc]=crossbuild-essential-arm64
        [qemu-aarch64]=qemu-user
    )
    local missing=()
    for cmd in "${!wanted[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "system packages: all present"
        return
    fi
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages (${missing[*]}) and not root: install them or run as root" >&2
        exit 1
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ -z "${SKIP_INSTALL:-}" ]; then
    install_system_packages
fi

log "toolchain: $(rustc --version)"
# The pinned toolchain lists the aarch64 target; make sure it is there for the
# cross-architecture check of the cache-maintenance code.
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (x86_64)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# Whether this toolchain can really build for aarch64: `rustup target list --installed` has
# been seen to list the target on a machine whose clippy-driver then could not learn the
# target's information (the CI machine, December 2026). A throwaway crate is checked with the
# same tool the step uses; if that fails, the step is skipped, visibly, with the tool's reason.
aarch64_probe() { # $1 = clippy|build
    local dir out
    dir="$(mktemp -d -t irpstack-aarch64-probe.XXXXXX)"
    mkdir -p "$dir/src"
    cp rust-toolchain.toml "$dir/"
    printf '[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n[workspace]\n' >"$dir/Cargo.toml"
    printf 'pub fn probe() -> usize { std::mem::size_of::<usize>() }\n' >"$dir/src/lib.rs"
    if out="$(cd "$dir" && CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
        cargo "$1" --target aarch64-unknown-linux-gnu --quiet 2>&1)"; then
        rm -rf "$dir"
        return 0
    fi
    rm -rf "$dir"
    AARCH64_PROBE_ERROR="$(printf '%s\n' "$out" | grep -m1 -E 'error' || printf '%s' "$out" | head -n1)"
    return 1
}

# cargo caches what rustc printed about a target in <target>/.rustc_info.json; a cached
# failed probe (seen here, its input text garbled) fails every later build for that target
# until the file is gone. It is only a cache: start the cross steps without it.
rm -f "${CARGO_TARGET_DIR:-target}/.rustc_info.json"

if ! rustup target list --installed | grep -q aarch64-unknown-linux-gnu; then
    echo "SKIP: scripts/test.sh clippy-aarch64: the aarch64-unknown-linux-gnu target could not be installed" >>"$SKIP_LOG"
elif ! aarch64_probe clippy; then
    echo "SKIP: scripts/test.sh clippy-aarch64: this toolchain's clippy cannot check for aarch64 (a throwaway crate failed: $AARCH64_PROBE_ERROR)" >>"$SKIP_LOG"
else
    log "cargo clippy (aarch64-unknown-linux-gnu: DC CVAC/CIVAC, CTR_EL0 paths)"
    cargo clippy -p irp --target aarch64-unknown-linux-gnu --all-targets --locked -- -D warnings
fi

log "cargo doc (broken intra-doc links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

log "cargo test --workspace"
cargo test --workspace --locked
# Tests run as root here: one once renamed a report file over /dev/null. Fail loudly if any
# test replaced the device node (and put it back, so the rest of the run and the machine work).
if [ ! -c /dev/null ]; then
    rm -f /dev/null && mknod -m 666 /dev/null c 1 3
    echo "a test replaced /dev/null with a regular file (restored)" >&2
    exit 1
fi

# The irp tests built for aarch64 and run under user-mode qemu, so that the aarch64 cache
# maintenance executes: the CTR_EL0 read, DC CVAC (to device), DC CIVAC (from device), IC IVAU
# (after a PIO read). qemu checks encodings and EL0 permissions but has no caches: it cannot
# show that lines were written back (README, "Cache maintenance, per architecture").
# -cpu cortex-a72 (ARMv8.0, no DPB): QEMU 7.2's user mode reports DPB but does not implement
# DC CVAP (SIGILL), so with its default CPU every persist() would trap; DC CVAP is not run.
AARCH64_RUNNER="qemu-aarch64 -cpu cortex-a72 -L /usr/aarch64-linux-gnu"
if ! rustup target list --installed | grep -q aarch64-unknown-linux-gnu \
    || ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
    echo "SKIP: scripts/test.sh aarch64-under-qemu: needs the aarch64 target, aarch64-linux-gnu-gcc (crossbuild-essential-arm64) and qemu-aarch64 (qemu-user)" >>"$SKIP_LOG"
elif ! aarch64_probe build; then
    echo "SKIP: scripts/test.sh aarch64-under-qemu: this toolchain cannot build for aarch64 (a throwaway crate failed: $AARCH64_PROBE_ERROR)" >>"$SKIP_LOG"
else
    log "cargo test -p irp --target aarch64-unknown-linux-gnu (under $AARCH64_RUNNER)"
    started=$SECONDS
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
        CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$AARCH64_RUNNER" \
        IRPSTACK_EMULATOR="$AARCH64_RUNNER" \
        cargo test -p irp --target aarch64-unknown-linux-gnu --locked
    log "aarch64 build and run: $((SECONDS - started)) s"
fi
