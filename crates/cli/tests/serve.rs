//! `irpstack serve` with real NBD clients: qemu-io, nbdinfo, nbdcopy, fio, qemu-img. Each
//! test skips (`irp::testing::skip`, listed at the end of `scripts/test.sh`) when its tool is
//! missing. Servers listen on Unix sockets in temporary directories or on 127.0.0.1 with a
//! port the kernel picks.

#[path = "../../frontends/nbd-server/tests/raw_client/mod.rs"]
mod raw_client;
mod serve_support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use nbd::consts::{CMD_READ, EINVAL};
use nbd::transmission::RequestHeader;
use raw_client::RawClient;
use serve_support::{Served, have, qemu_io, random_bytes, run, serve};

fn unix_args<'a>(dir: &'a Path, stack: &'a str) -> Vec<String> {
    let socket = dir.join("nbd.sock");
    let data = dir.join("data");
    vec![
        "--stack".into(),
        stack.into(),
        "--socket".into(),
        socket.display().to_string(),
        "--data-dir".into(),
        data.display().to_string(),
    ]
}

fn serve_unix(dir: &Path, stack: &str) -> Served {
    let args = unix_args(dir, stack);
    serve(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn qemu_io_writes_flushes_and_reads_back() {
    if !have("qemu-io") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = serve_unix(dir.path(), "cache(size=16M) / file(path=disk.img,size=64M)");
    let commands = [
        "write -P 0xab 0 64k",
        "aio_write -P 0xcd 64k 64k",
        "aio_flush",
        "flush",
        "read -P 0xab 0 64k",
        "read -P 0xcd 64k 64k",
        "write -f -P 0xef 1M 4k",
        "write -z 2M 64k",
        "read -P 0 2M 64k",
        "discard 4M 1M",
    ];
    qemu_io(&server.uri, &commands);
}

#[test]
fn nbdinfo_reports_size_flags_and_exports() {
    if !have("nbdinfo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("exports.toml");
    let socket = dir.path().join("nbd.sock");
    let text = format!(
        "socket = {:?}\n[[export]]\nname = \"rw\"\nstack = \"cache(size=8M) / memory(size=64M)\"\n\
         [[export]]\nname = \"ro\"\nstack = \"memory(size=32M)\"\nread_only = true\ndescription = \"golden\"\n",
        socket.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    let server = serve(dir.path(), &["--config", config.to_str().unwrap()]);
    let info = |name: &str| {
        let uri = format!("nbd+unix:///{name}?socket={}", socket.display());
        let out = run("nbdinfo", &["--json", &uri]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["exports"][0].clone()
    };
    let rw = info("rw");
    assert_eq!(rw["export-size"], 64 << 20);
    for flag in ["can_flush", "can_fua", "can_trim", "can_zero", "can_multi_conn"] {
        assert_eq!(rw[flag], true, "{flag} in {rw}");
    }
    assert_eq!(rw["is_read_only"], false);
    let ro = info("ro");
    assert_eq!((ro["export-size"].as_u64(), ro["is_read_only"].as_bool()), (Some(32 << 20), Some(true)));
    assert_eq!(info("")["export-size"], 64 << 20, "the first export is the default");

    let list = run("nbdinfo", &["--list", "--json", &server.uri]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let names: Vec<&str> =
        list["exports"].as_array().unwrap().iter().filter_map(|e| e["export-name"].as_str()).collect();
    assert_eq!(names, ["rw", "ro"]);
}

#[test]
fn nbdcopy_copies_256_mib_in_and_out() {
    if !have("nbdcopy") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.img");
    let output = dir.path().join("out.img");
    let data = random_bytes(42, 256 << 20);
    std::fs::write(&input, &data).unwrap();
    let server = serve_unix(dir.path(), "cache(size=64M) / file(path=disk.img,size=256M)");
    let started = Instant::now();
    run("nbdcopy", &[input.to_str().unwrap(), &server.uri]);
    run("nbdcopy", &[&server.uri, output.to_str().unwrap()]);
    println!("nbdcopy 256 MiB in and out: {:.2?}", started.elapsed());
    assert!(std::fs::read(&output).unwrap() == data, "the copy differs from the original");
}

#[test]
fn fio_random_writes_verify() {
    if !have("fio") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = serve_unix(dir.path(), "cache(size=16M) / file(path=disk.img,size=64M)");
    let uri = format!("--uri={}", server.uri);
    let args =
        ["--name=t", "--ioengine=nbd", &uri, "--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=64m"];
    let mut fio = Command::new("fio");
    // fio leaves its verify state file in the working directory: the test's.
    fio.args(args).args(["--verify=crc32c", "--output-format=json"]).current_dir(dir.path());
    let out = fio.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("engine nbd not loadable") {
        irp::testing::skip("fio has no nbd engine");
        return;
    }
    assert!(out.status.success(), "fio failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(text.trim_start_matches(|c| c != '{')).unwrap();
    assert_eq!(json["jobs"][0]["error"], 0, "{text}");
}

#[test]
fn qemu_img_converts_in_and_back() {
    if !have("qemu-img") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.img"), dir.path().join("out.img"));
    let data = random_bytes(7, 16 << 20);
    std::fs::write(&input, &data).unwrap();
    let server = serve_unix(dir.path(), "file(path=disk.img,size=16M)");
    run("qemu-img", &["convert", "-n", "-f", "raw", "-O", "raw", input.to_str().unwrap(), &server.uri]);
    run("qemu-img", &["convert", "-f", "raw", "-O", "raw", &server.uri, output.to_str().unwrap()]);
    assert!(std::fs::read(&output).unwrap() == data);
}

#[test]
fn default_stack_on_tcp_with_a_picked_port() {
    if !have("qemu-io") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--listen", "127.0.0.1:0"]);
    let port: u16 = server.uri.strip_prefix("nbd://127.0.0.1:").expect("a TCP URI").parse().unwrap();
    assert_ne!(port, 0);
    let image = dir.path().join("irpstack-data/default.img");
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 1 << 30, "a 1 GiB image");
    qemu_io(&format!("{}/", server.uri), &["write -P 0x42 512M 64k", "flush", "read -P 0x42 512M 64k"]);
    assert!(server.signal_and_wait("TERM").success());
}

#[test]
fn flushed_data_survives_sigkill() {
    if !have("qemu-io") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stack = "cache(size=16M) / file(path=disk.img,size=32M)";
    let server = serve_unix(dir.path(), stack);
    qemu_io(&server.uri, &["write -P 0x77 0 1M", "write -P 0x78 8M 64k", "flush"]);
    assert!(!server.signal_and_wait("KILL").success());
    let server = serve_unix(dir.path(), stack);
    qemu_io(&server.uri, &["read -P 0x77 0 1M", "read -P 0x78 8M 64k"]);
}

#[test]
fn sigterm_writes_the_cache_back_and_exits_0() {
    if !have("qemu-io") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = serve_unix(dir.path(), "cache(size=16M) / file(path=disk.img,size=16M)");
    qemu_io(&server.uri, &["write -P 0x3c 4M 128k"]);
    let status = server.signal_and_wait("TERM");
    assert!(status.success(), "exit status {status}");
    let image = std::fs::read(dir.path().join("data/disk.img")).unwrap();
    assert!(image[4 << 20..(4 << 20) + (128 << 10)].iter().all(|&b| b == 0x3c), "the cache was written back");
}

#[test]
fn garbage_and_oversized_requests_do_not_disturb_other_clients() {
    if !have("qemu-io") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = serve_unix(dir.path(), "cache(size=16M) / file(path=disk.img,size=64M)");
    let socket = server.socket.clone().unwrap();
    let mut big = RawClient::open(&socket, "", false).unwrap();
    let mut garbage = RawClient::open(&socket, "", false).unwrap();
    std::io::Write::write_all(&mut garbage.stream, b"this is not an NBD request header").unwrap();
    qemu_io(&server.uri, &["write -P 0x99 0 256k", "flush", "read -P 0x99 0 256k"]);
    assert!(garbage.is_closed(), "the garbage sender is disconnected");
    let header = RequestHeader { flags: 0, command: CMD_READ, cookie: 9, offset: 0, length: (32 << 20) + 1 };
    assert_eq!(big.request(header, &[]).unwrap().error, EINVAL, "a read over 32 MiB is refused");
    assert_eq!(big.read(0, 4096).unwrap(), Ok(vec![0x99; 4096]), "and that connection goes on");
    let stderr = server.stderr();
    assert!(stderr.contains("bad request") && stderr.contains(socket.to_str().unwrap()), "{stderr}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_irpstack");
    let socket = dir.path().join("s.sock");
    let socket = socket.to_str().unwrap();
    let fails = |args: &[&str]| {
        let out = Command::new(bin).arg("serve").args(args).current_dir(dir.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    let stderr = fails(&["--stack", "cahce(size=1M) / memory(size=1M)", "--socket", socket]);
    assert!(stderr.contains("unknown driver") && stderr.contains("^^^^^") && stderr.contains("did you mean"));
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    assert!(fails(&["--stack", "memory(size=1M)", "--listen", &addr]).contains("Address already in use"));
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"").unwrap();
    let data_dir = file.join("sub");
    let stderr = fails(&["--socket", socket, "--data-dir", data_dir.to_str().unwrap()]);
    assert!(stderr.contains("cannot create the data directory"), "{stderr}");
    let help = Command::new(bin).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Examples:") && help.contains("qemu-io") && help.contains("--config"), "{help}");
}

/// The connect hint of a read-only export is a qemu-io line that works (`-r`); run as printed.
#[test]
fn the_read_only_connect_hint_works_as_printed() {
    if !have("qemu-io") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nbd.sock");
    let args = ["--socket", socket.to_str().unwrap(), "--read-only", "--stack", "memory(size=16M)"];
    let server = serve(dir.path(), &args);
    let lines = server.lines_until("stop with");
    let hint =
        lines.iter().find_map(|l| l.trim().strip_prefix("qemu-io ")).expect("a qemu-io hint").to_owned();
    assert!(hint.starts_with("-r -f raw '"), "{hint}");
    let uri = hint.rsplit('\'').nth(1).expect("a quoted URI");
    let out = run("qemu-io", &["-r", "-f", "raw", uri, "-c", "read -P 0 0 4k"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(server.signal_and_wait("TERM").success());
}

/// `--stack` takes a TOML stack file too (`[[layer]]` tables), and a missing one is named.
#[test]
fn a_toml_stack_file_is_served() {
    if !have("qemu-io") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        "[[layer]]\ndriver = \"cache\"\nsize = \"4M\"\n\n[[layer]]\ndriver = \"memory\"\nsize = \"16M\"\n",
    )
    .unwrap();
    let socket = dir.path().join("nbd.sock");
    let server =
        serve(dir.path(), &["--socket", socket.to_str().unwrap(), "--stack", spec.to_str().unwrap()]);
    qemu_io(&server.uri, &["write -P 0x5a 1M 64k", "flush", "read -P 0x5a 1M 64k"]);
    assert!(server.signal_and_wait("TERM").success());

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .args(["serve", "--socket", socket.to_str().unwrap(), "--stack", "missing.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("missing.toml") && !stderr.contains("invalid driver name"),
        "{stderr}"
    );
}
