use super::*;
use crate::mdl::{LockOperation, Mdl};

const DIRECTIONS: [Direction; 2] = [Direction::ToDevice, Direction::FromDevice];
const TRANSFERS: [Transfer; 4] =
    [Transfer::Dma, Transfer::Pio, Transfer::NonCoherentDma, Transfer::Persistent];

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[cfg(target_arch = "x86_64")]
fn cpu_flag(name: &str) -> bool {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo.lines().find(|l| l.starts_with("flags")).is_some_and(|l| l.split_whitespace().any(|f| f == name))
}

#[cfg(target_arch = "x86_64")]
#[test]
fn method_selection_follows_cpu_flags() {
    let expected = if cpu_flag("clwb") {
        FlushMethod::Clwb
    } else if cpu_flag("clflushopt") {
        FlushMethod::Clflushopt
    } else {
        FlushMethod::Clflush
    };
    assert_eq!(persistence_method(), expected);
    let methods = available_methods();
    assert_eq!(methods.first(), Some(&expected));
    for (flag, method) in [
        ("clwb", FlushMethod::Clwb),
        ("clflushopt", FlushMethod::Clflushopt),
        ("clflush", FlushMethod::Clflush),
    ] {
        assert_eq!(cpu_flag(flag), methods.contains(&method), "{flag}");
        assert_eq!(cpu_flag(flag), method.is_available(), "{flag}");
    }
    assert!(!FlushMethod::DcCvac.is_available());
    assert!(FlushMethod::None.is_available());
    assert_eq!(line_size(), 64);
}

#[cfg(target_arch = "x86_64")]
#[test]
#[should_panic(expected = "dc cvac is not available")]
fn unavailable_method_panics() {
    flush_with(&[1, 2, 3], FlushMethod::DcCvac);
}

#[test]
fn line_size_is_sane() {
    assert!(line_size().is_power_of_two() && line_size() >= 16);
}

#[test]
fn persist_unaligned_ranges_keeps_data() {
    let data = pattern(3 * 4096 + 100);
    let copy = data.clone();
    let line = line_size();
    for start in [0, 1, 7, line - 1, line, 4095, 4096] {
        for len in [0, 1, line - 1, line, line + 1, 2 * line + 3, 4096, 8191] {
            if start + len <= data.len() {
                persist(&data[start..start + len]);
                write_back(&data[start..start + len]);
                for method in available_methods() {
                    flush_with(&data[start..start + len], method);
                }
            }
        }
    }
    persist(&data[data.len()..]);
    persist(&[]);
    drain();
    assert_eq!(data, copy);
}

#[test]
fn persist_sees_latest_stores() {
    let mut data = vec![0u8; 256];
    for round in 0..4u8 {
        data.iter_mut().for_each(|b| *b = round);
        persist(&data[3..200]);
        assert!(data.iter().all(|&b| b == round));
    }
}

#[test]
fn flush_range_raw_pointer() {
    let data = pattern(1000);
    // SAFETY: the range lies within `data`.
    unsafe { flush_range(data.as_ptr().wrapping_add(13), 900, persistence_method()) };
    // SAFETY: a zero-length range at a live allocation.
    unsafe { flush_range(data.as_ptr(), 0, FlushMethod::None) };
    assert_eq!(data, pattern(1000));
}

#[test]
fn flush_io_buffers_all_combinations() {
    let content = pattern(3 * 4096);
    let mut src = Mdl::from_slice(&content).unwrap();
    src.probe_and_lock(LockOperation::ModifyAccess).unwrap();
    let partial = src.build_partial(4096 - 100, 4096 + 300).unwrap();
    let empty = src.build_partial(content.len(), 0).unwrap();
    for mdl in [&src, &*partial, &*empty] {
        for direction in DIRECTIONS {
            for transfer in TRANSFERS {
                flush_io_buffers(mdl, direction, transfer);
            }
        }
    }
    assert_eq!(src.bytes(), &content[..]);
    assert_eq!(partial.bytes(), &content[4096 - 100..4096 * 2 + 200]);
}

#[test]
fn flush_io_buffers_on_unlocked_and_chained_mdls() {
    // One call per MDL: the head of a chain is flushed on its own; `next` is not followed,
    // and flushing does not need locked pages in user space.
    let mut head = Mdl::from_slice(b"head").unwrap();
    head.set_next(Some(Box::new(Mdl::from_slice(b"tail").unwrap())));
    for direction in DIRECTIONS {
        for transfer in TRANSFERS {
            for mdl in head.chain() {
                flush_io_buffers(mdl, direction, transfer);
            }
        }
    }
    assert_eq!(head.bytes(), b"head");
    assert_eq!(head.next().unwrap().bytes(), b"tail");
}

#[test]
fn direction_and_method_names() {
    assert_eq!(Direction::from_read_operation(true), Direction::FromDevice);
    assert_eq!(Direction::from_read_operation(false), Direction::ToDevice);
    assert_eq!(FlushMethod::Clflushopt.name(), "clflushopt");
    assert_eq!(FlushMethod::DcCvap.name(), "dc cvap");
}

/// On aarch64 (run under qemu-aarch64 by `scripts/test.sh`): the persistence method follows
/// the DPB hardware capability, the x86 instructions are unavailable, and `CTR_EL0` gave a
/// data line size. `flush_io_buffers_all_combinations` then executes every path: `DC CVAC`
/// (to device), `DC CIVAC` (from device), `IC IVAU` (after a PIO read) and the persistence
/// method.
#[cfg(target_arch = "aarch64")]
#[test]
fn aarch64_method_selection_follows_hwcaps() {
    let dpb = std::arch::is_aarch64_feature_detected!("dpb");
    let expected = if dpb { FlushMethod::DcCvap } else { FlushMethod::DcCvac };
    assert_eq!(persistence_method(), expected);
    assert_eq!(available_methods().first(), Some(&expected));
    assert!(FlushMethod::DcCvac.is_available() && FlushMethod::None.is_available());
    assert_eq!(FlushMethod::DcCvap.is_available(), dpb);
    for x86 in [FlushMethod::Clwb, FlushMethod::Clflushopt, FlushMethod::Clflush] {
        assert!(!x86.is_available(), "{}", x86.name());
    }
    assert!((16..=2048).contains(&line_size()), "CTR_EL0.DminLine gave {}", line_size());
}

#[cfg(target_arch = "aarch64")]
#[test]
#[should_panic(expected = "clwb is not available")]
fn unavailable_method_panics_on_aarch64() {
    flush_with(&[1, 2, 3], FlushMethod::Clwb);
}
