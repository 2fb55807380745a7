//! RLIMIT_MEMLOCK handling: the `LockLimit` error and its message.

use std::process::Command;

use crate::mdl::{LockOperation, Mdl, MdlError, page_size};

#[test]
fn lock_limit_message_says_how_to_raise_it() {
    let err = MdlError::LockLimit { requested: 1 << 20, limit: 65536 };
    let msg = err.to_string();
    assert!(msg.contains("65536 bytes") && msg.contains("ulimit -l"), "{msg}");
    assert!(msg.contains("LimitMEMLOCK"), "{msg}");
    let unlimited = MdlError::LockLimit { requested: 1, limit: u64::MAX };
    assert!(unlimited.to_string().contains("unlimited"));
}

const LOCK_LIMIT_CHILD: &str = "IRP_MDL_TEST_LOCK_LIMIT_CHILD";

/// Runs `lock_limit_child` in a fresh process, so lowering RLIMIT_MEMLOCK and dropping
/// CAP_IPC_LOCK there cannot affect the other tests. Under an emulator (the aarch64 run of
/// `scripts/test.sh`) the child runs under it too.
#[test]
fn lock_limit_error_when_rlimit_exceeded() {
    let module = module_path!().split_once("::").unwrap().1;
    let exe = std::env::current_exe().unwrap();
    let mut child = match crate::testing::emulator() {
        Some(emulator) => {
            let mut c = Command::new(&emulator[0]);
            c.args(&emulator[1..]).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let out = child
        .args(["--exact", &format!("{module}::lock_limit_child")])
        .args(["--test-threads=1", "--nocapture"])
        .env(LOCK_LIMIT_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "child did not run:\n{stdout}");
}

#[test]
fn lock_limit_child() {
    if std::env::var_os(LOCK_LIMIT_CHILD).is_none() {
        return;
    }
    drop_cap_ipc_lock();
    let limit = 64 * 1024;
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill and setrlimit to read.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim), 0);
        lim.rlim_cur = limit;
        assert_eq!(libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim), 0);
    }
    let mut mdl = Mdl::with_len(1 << 20).unwrap();
    let err = mdl.probe_and_lock(LockOperation::ReadAccess).unwrap_err();
    println!("{err}");
    assert!(
        matches!(err, MdlError::LockLimit { requested, limit: l } if requested == 1 << 20 && l == limit),
        "{err:?}"
    );
    assert!(!mdl.pages_locked() && mdl.flags().is_empty());
    // A small lock still fits under the lowered limit.
    let mut small = Mdl::with_len(page_size()).unwrap();
    small.probe_and_lock(LockOperation::ReadAccess).unwrap();
}

/// Removes CAP_IPC_LOCK (which lets mlock ignore RLIMIT_MEMLOCK) from the effective set.
fn drop_cap_ipc_lock() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_IPC_LOCK: u32 = 14;
    let mut header = Header { version: VERSION_3, pid: 0 };
    let mut data = [Data::default(); 2];
    // SAFETY: `header` and `data` match the kernel's v3 capability structures (two data
    // elements) and stay alive for the calls.
    unsafe {
        let header: *mut Header = &mut header;
        assert_eq!(libc::syscall(libc::SYS_capget, header, data.as_mut_ptr()), 0);
        data[0].effective &= !(1 << CAP_IPC_LOCK);
        assert_eq!(libc::syscall(libc::SYS_capset, header, data.as_ptr()), 0);
    }
}
