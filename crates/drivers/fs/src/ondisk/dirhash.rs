//! The directory hashes htree indexes are sorted by: legacy (`dx_hack_hash`), half-MD4 and
//! TEA, each in a signed-char and an unsigned-char variant, seeded by `s_hash_seed`.

/// `dx_root_info.hash_version` / `s_def_hash_version` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashVersion {
    /// 0 (3 unsigned).
    Legacy,
    /// 1 (4 unsigned).
    HalfMd4,
    /// 2 (5 unsigned).
    Tea,
}

/// A hash algorithm and the char signedness it reads names with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirHash {
    /// Which algorithm.
    pub version: HashVersion,
    /// Names are read as unsigned chars.
    pub unsigned: bool,
}

impl DirHash {
    /// From an on-disk hash version (0..=5; 3..=5 are the unsigned forms of 0..=2).
    /// `unsigned_fs` is the superblock's unsigned-hash flag, which applies to 0..=2.
    pub fn from_raw(v: u8, unsigned_fs: bool) -> Option<DirHash> {
        let (version, unsigned) = match v {
            0 => (HashVersion::Legacy, unsigned_fs),
            1 => (HashVersion::HalfMd4, unsigned_fs),
            2 => (HashVersion::Tea, unsigned_fs),
            3 => (HashVersion::Legacy, true),
            4 => (HashVersion::HalfMd4, true),
            5 => (HashVersion::Tea, true),
            _ => return None,
        };
        Some(DirHash { version, unsigned })
    }
}

/// The end-of-directory hash value the kernel avoids handing out.
const EOF_HASH: u32 = 0x7FFF_FFFF << 1;

fn char_value(c: u8, unsigned: bool) -> u32 {
    if unsigned { u32::from(c) } else { c as i8 as i32 as u32 }
}

/// The legacy hash (`dx_hack_hash`).
fn legacy(name: &[u8], unsigned: bool) -> u32 {
    let (mut h0, mut h1) = (0x12A3_FE2Du32, 0x37AB_E8F9u32);
    for &c in name {
        let mut h = h1.wrapping_add(h0 ^ char_value(c, unsigned).wrapping_mul(7_152_373));
        if h & 0x8000_0000 != 0 {
            h = h.wrapping_sub(0x7FFF_FFFF);
        }
        h1 = h0;
        h0 = h;
    }
    h0 << 1
}

/// Packs up to `4 * out.len()` bytes of `msg` into words, big-end first within each
/// word, padding with a word made of the (full) length.
fn str2hashbuf(msg: &[u8], full_len: usize, out: &mut [u32], unsigned: bool) {
    let len32 = full_len as u32;
    let mut pad = len32 | (len32 << 8);
    pad |= pad << 16;
    let take = msg.len().min(out.len() * 4);
    let mut val = pad;
    let mut w = 0usize;
    for (i, &c) in msg.iter().take(take).enumerate() {
        val = char_value(c, unsigned).wrapping_add(val << 8);
        if i % 4 == 3 {
            if let Some(slot) = out.get_mut(w) {
                *slot = val;
            }
            w += 1;
            val = pad;
        }
    }
    if let Some(slot) = out.get_mut(w) {
        *slot = val;
        w += 1;
    }
    for slot in out.iter_mut().skip(w) {
        *slot = pad;
    }
}

/// The half-MD4 compression: three rounds of eight steps over `buf` with `input`.
fn half_md4_transform(buf: &mut [u32; 4], input: &[u32; 8]) {
    const K2: u32 = 0x5A82_7999;
    const K3: u32 = 0x6ED9_EBA1;
    let f = |x: u32, y: u32, z: u32| z ^ (x & (y ^ z));
    let g = |x: u32, y: u32, z: u32| (x & y).wrapping_add((x ^ y) & z);
    let h = |x: u32, y: u32, z: u32| x ^ y ^ z;
    let [mut a, mut b, mut c, mut d] = *buf;
    // One step: a = rol(a + fun(b, c, d) + x, s), with the four words rotating roles.
    macro_rules! step {
        ($fun:ident, $a:ident, $b:ident, $c:ident, $d:ident, $x:expr, $s:expr) => {
            $a = $a.wrapping_add($fun($b, $c, $d)).wrapping_add($x).rotate_left($s);
        };
    }
    let x = input;
    step!(f, a, b, c, d, x[0], 3);
    step!(f, d, a, b, c, x[1], 7);
    step!(f, c, d, a, b, x[2], 11);
    step!(f, b, c, d, a, x[3], 19);
    step!(f, a, b, c, d, x[4], 3);
    step!(f, d, a, b, c, x[5], 7);
    step!(f, c, d, a, b, x[6], 11);
    step!(f, b, c, d, a, x[7], 19);

    step!(g, a, b, c, d, x[1].wrapping_add(K2), 3);
    step!(g, d, a, b, c, x[3].wrapping_add(K2), 5);
    step!(g, c, d, a, b, x[5].wrapping_add(K2), 9);
    step!(g, b, c, d, a, x[7].wrapping_add(K2), 13);
    step!(g, a, b, c, d, x[0].wrapping_add(K2), 3);
    step!(g, d, a, b, c, x[2].wrapping_add(K2), 5);
    step!(g, c, d, a, b, x[4].wrapping_add(K2), 9);
    step!(g, b, c, d, a, x[6].wrapping_add(K2), 13);

    step!(h, a, b, c, d, x[3].wrapping_add(K3), 3);
    step!(h, d, a, b, c, x[7].wrapping_add(K3), 9);
    step!(h, c, d, a, b, x[2].wrapping_add(K3), 11);
    step!(h, b, c, d, a, x[6].wrapping_add(K3), 15);
    step!(h, a, b, c, d, x[1].wrapping_add(K3), 3);
    step!(h, d, a, b, c, x[5].wrapping_add(K3), 9);
    step!(h, c, d, a, b, x[0].wrapping_add(K3), 11);
    step!(h, b, c, d, a, x[4].wrapping_add(K3), 15);

    buf[0] = buf[0].wrapping_add(a);
    buf[1] = buf[1].wrapping_add(b);
    buf[2] = buf[2].wrapping_add(c);
    buf[3] = buf[3].wrapping_add(d);
}

/// 16 rounds of TEA over the first two words of `buf`, keyed by `input`.
fn tea_transform(buf: &mut [u32; 4], input: &[u32; 4]) {
    const DELTA: u32 = 0x9E37_79B9;
    let (mut b0, mut b1) = (buf[0], buf[1]);
    let [a, b, c, d] = *input;
    let mut sum = 0u32;
    for _ in 0..16 {
        sum = sum.wrapping_add(DELTA);
        b0 = b0.wrapping_add((b1 << 4).wrapping_add(a) ^ b1.wrapping_add(sum) ^ (b1 >> 5).wrapping_add(b));
        b1 = b1.wrapping_add((b0 << 4).wrapping_add(c) ^ b0.wrapping_add(sum) ^ (b0 >> 5).wrapping_add(d));
    }
    buf[0] = buf[0].wrapping_add(b0);
    buf[1] = buf[1].wrapping_add(b1);
}

/// The default seed, used when `s_hash_seed` is all zero.
const DEFAULT_SEED: [u32; 4] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476];

/// `(major, minor)` hash of `name`: what htree entries sort by (the major hash has its low
/// bit clear; bit 0 in a dx entry marks a hash collision continuation).
pub fn dir_hash(name: &[u8], hash: DirHash, seed: &[u32; 4]) -> (u32, u32) {
    let mut buf = if seed.iter().all(|&w| w == 0) { DEFAULT_SEED } else { *seed };
    let (major, minor) = match hash.version {
        HashVersion::Legacy => (legacy(name, hash.unsigned), 0),
        HashVersion::HalfMd4 => {
            let mut input = [0u32; 8];
            for (i, chunk) in name.chunks(32).enumerate() {
                str2hashbuf(chunk, name.len() - 32 * i, &mut input, hash.unsigned);
                half_md4_transform(&mut buf, &input);
            }
            (buf[1], buf[2])
        }
        HashVersion::Tea => {
            let mut input = [0u32; 4];
            for (i, chunk) in name.chunks(16).enumerate() {
                str2hashbuf(chunk, name.len() - 16 * i, &mut input, hash.unsigned);
                tea_transform(&mut buf, &input);
            }
            (buf[0], buf[1])
        }
    };
    let major = major & !1;
    let major = if major == EOF_HASH { (0x7FFF_FFFF - 1) << 1 } else { major };
    (major, minor)
}

#[cfg(test)]
mod tests;
