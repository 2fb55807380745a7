//! Extended attributes: the entry table in the inode (after `i_extra_isize`, behind the
//! magic 0xEA020000, values relative to the first entry) and in an xattr block (32-byte
//! header, values relative to the block), the entry and block hashes, and the block's
//! crc32c.

use super::bytes::{put, put_u8, put_u16, put_u32, slice, u8_at, u16_at, u32_at};
use super::error::{Corruption, FormatError, Result, check_csum, need};
use crate::csum::crc32c_raw;

/// Magic of the in-inode area and of xattr blocks.
pub const XATTR_MAGIC: u32 = 0xEA02_0000;
/// Size of the xattr block header.
pub const BLOCK_HEADER_SIZE: usize = 32;
/// Size of an entry's fixed part.
const ENTRY_HEADER: usize = 16;
/// Offset of `h_checksum` in the block header.
const BLOCK_CSUM_OFF: usize = 0x10;

/// Name prefixes by `e_name_index`.
const PREFIXES: &[(u8, &str)] = &[
    (1, "user."),
    (2, "system.posix_acl_access"),
    (3, "system.posix_acl_default"),
    (4, "trusted."),
    (6, "security."),
    (7, "system."),
    (8, "system.richacl"),
];

/// One attribute entry and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XattrEntry {
    /// `e_name_index` (namespace prefix).
    pub name_index: u8,
    /// The name after the prefix.
    pub name: Vec<u8>,
    /// `e_value_offs` as stored.
    pub value_offs: u16,
    /// `e_value_inum` (ea_inode: the value lives in that inode).
    pub value_inum: u32,
    /// `e_hash`.
    pub hash: u32,
    /// The value (empty when `value_inum != 0`).
    pub value: Vec<u8>,
}

impl XattrEntry {
    /// The full name, prefix included (`user.foo`). Unknown indexes get no prefix.
    pub fn full_name(&self) -> Vec<u8> {
        let prefix = PREFIXES.iter().find(|(i, _)| *i == self.name_index).map_or("", |(_, p)| *p);
        [prefix.as_bytes(), &self.name].concat()
    }

    /// The entry hash as ext4 computes it: name bytes, then the value's 32-bit words.
    pub fn compute_hash(&self) -> u32 {
        entry_hash(&self.name, &self.value, self.value_inum)
    }
}

/// Splits a full name into `(name_index, rest)`, choosing the longest known prefix.
pub fn split_name(full: &[u8]) -> (u8, &[u8]) {
    let mut best: (u8, usize) = (0, 0);
    for (i, p) in PREFIXES {
        let p = p.as_bytes();
        if full.starts_with(p) && p.len() > best.1 {
            best = (*i, p.len());
        }
    }
    (best.0, full.get(best.1..).unwrap_or(&[]))
}

/// The ext4 entry hash (names read as unsigned chars, as current kernels do).
pub fn entry_hash(name: &[u8], value: &[u8], value_inum: u32) -> u32 {
    let mut h = 0u32;
    for &c in name {
        h = (h << 5) ^ (h >> 27) ^ u32::from(c);
    }
    if value_inum == 0 && !value.is_empty() {
        for w in value.chunks(4) {
            let mut word = [0u8; 4];
            word[..w.len()].copy_from_slice(w);
            h = (h << 16) ^ (h >> 16) ^ u32::from_le_bytes(word);
        }
    }
    h
}

/// The block hash: the entry hashes folded together (0 if any entry's hash is 0).
pub fn block_hash(entries: &[XattrEntry]) -> u32 {
    let mut h = 0u32;
    for e in entries {
        if e.hash == 0 {
            return 0;
        }
        h = (h << 16) ^ (h >> 16) ^ e.hash;
    }
    h
}

fn padded(n: usize) -> usize {
    (n + 3) & !3
}

/// Parses an entry table starting at `table` in `region`; value offsets are relative to
/// `value_base`, and values must lie in `region[value_base..]`.
fn parse_entries(region: &[u8], table: usize, value_base: usize) -> Result<Vec<XattrEntry>> {
    let mut out = Vec::new();
    let mut off = table;
    loop {
        if region.len().saturating_sub(off) < 4 || u32_at(region, off) == 0 {
            break; // end of the table (4 zero bytes, or the end of the area)
        }
        let at = |e: FormatError| e.at(format!("xattr entry at offset {off}"));
        need("xattr entry", region.get(off..).unwrap_or(&[]), ENTRY_HEADER).map_err(at)?;
        let name_len = usize::from(u8_at(region, off));
        let name_index = u8_at(region, off + 1);
        let value_offs = u16_at(region, off + 2);
        let value_inum = u32_at(region, off + 4);
        let value_size = u32_at(region, off + 8) as usize;
        let hash = u32_at(region, off + 12);
        let name = slice(region, off + ENTRY_HEADER, name_len);
        if name.len() != name_len {
            return Err(at(FormatError::invalid(
                "xattr entry",
                format!("name of {name_len} bytes runs off the end"),
            )));
        }
        let value = if value_inum != 0 {
            Vec::new()
        } else {
            let start = value_base + usize::from(value_offs);
            let v = slice(region, start, value_size);
            if v.len() != value_size || start < value_base {
                return Err(at(FormatError::invalid(
                    "xattr entry",
                    format!("value of {value_size} bytes at {value_offs} does not fit"),
                )));
            }
            v.to_vec()
        };
        out.push(XattrEntry { name_index, name: name.to_vec(), value_offs, value_inum, hash, value });
        off += padded(ENTRY_HEADER + name_len);
    }
    check_value_regions(&out, (off + 4).min(region.len()), value_base)?;
    Ok(out)
}

/// Values lie past the entry table (and its 4-byte terminator) and do not overlap each
/// other, as the kernel (`ext4_xattr_check_entries`) and e2fsck ("overlapping regions")
/// require: an area breaking this would not re-encode to itself, and writing one value would
/// overwrite another's bytes or the table.
fn check_value_regions(entries: &[XattrEntry], table_end: usize, value_base: usize) -> Result<()> {
    let mut regions: Vec<(usize, usize)> = entries
        .iter()
        .filter(|e| e.value_inum == 0 && !e.value.is_empty())
        .map(|e| {
            let start = value_base + usize::from(e.value_offs);
            (start, start + e.value.len())
        })
        .collect();
    regions.sort_unstable();
    if let Some(&(start, _)) = regions.first()
        && start < table_end
    {
        return Err(FormatError::invalid(
            "xattr entry",
            format!("a value at offset {start} overlaps the entry table (which ends at {table_end})"),
        ));
    }
    for w in regions.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(FormatError::invalid(
                "xattr entry",
                format!("values at offsets {} and {} overlap", w[0].0, w[1].0),
            ));
        }
    }
    Ok(())
}

/// Parses the in-inode area (`Inode::xattr_area`). An area without the magic holds no
/// attributes.
pub fn parse_inode_xattrs(area: &[u8]) -> Result<Vec<XattrEntry>> {
    if area.len() < 4 || u32_at(area, 0) != XATTR_MAGIC {
        return Ok(Vec::new());
    }
    let body = &area[4..];
    parse_entries(body, 0, 0).map_err(|e| e.at("in-inode xattrs"))
}

/// Encodes the in-inode area (magic, entries, values at their `value_offs`, relative to
/// the first entry) into `area`. Entry hashes are written as given: the kernel stores 0
/// for in-inode entries (e2fsck checks a hash only when it is not 0). Lay values out first
/// with [`layout_values`] when building new entries.
pub fn encode_inode_xattrs(entries: &[XattrEntry], area: &mut [u8]) -> Result<()> {
    area.fill(0);
    if entries.is_empty() {
        return Ok(());
    }
    put_u32(area, 0, XATTR_MAGIC);
    let body = area.get_mut(4..).unwrap_or(&mut []);
    encode_entries(entries, body, 0, 0)
}

/// Assigns `value_offs` so values are packed (4-byte aligned) at the end of a region of
/// `region_len` bytes, after an entry table starting at `table`: for the in-inode area
/// `region_len` is the area size less the 4-byte magic and `table` is 0; for a block it is
/// the block size and 32. Fails if entries and values do not fit.
pub fn layout_values(entries: &mut [XattrEntry], region_len: usize, table: usize) -> Result<()> {
    let table_len: usize = entries.iter().map(|e| padded(ENTRY_HEADER + e.name.len())).sum::<usize>() + 4;
    let values_len: usize = entries.iter().filter(|e| e.value_inum == 0).map(|e| padded(e.value.len())).sum();
    let need = table + table_len + values_len;
    if need > region_len || region_len > usize::from(u16::MAX) + 1 {
        return Err(FormatError::new("xattrs", Corruption::Truncated { need, have: region_len }));
    }
    let mut vend = region_len;
    for e in entries.iter_mut() {
        if e.value_inum == 0 && !e.value.is_empty() {
            vend -= padded(e.value.len());
            e.value_offs = vend as u16;
        } else {
            e.value_offs = 0;
        }
    }
    Ok(())
}

/// Sets every entry's hash from its name and value; returns the block hash of the list.
pub fn update_hashes(entries: &mut [XattrEntry]) -> u32 {
    for e in entries.iter_mut() {
        e.hash = e.compute_hash();
    }
    block_hash(entries)
}

fn encode_entries(entries: &[XattrEntry], region: &mut [u8], table: usize, base: usize) -> Result<()> {
    let mut off = table;
    for e in entries {
        let entry_len = padded(ENTRY_HEADER + e.name.len());
        if off + entry_len + 4 > region.len() {
            return Err(FormatError::new(
                "xattr entry",
                Corruption::Truncated { need: off + entry_len + 4, have: region.len() },
            ));
        }
        if e.value_inum == 0 && !e.value.is_empty() {
            let at = base + usize::from(e.value_offs);
            if at < off + entry_len || at + e.value.len() > region.len() {
                return Err(FormatError::invalid(
                    "xattr entry",
                    format!(
                        "value of {} bytes at {} overlaps the table or the end",
                        e.value.len(),
                        e.value_offs
                    ),
                ));
            }
            put(region, at, &e.value);
        }
        put_u8(region, off, e.name.len() as u8);
        put_u8(region, off + 1, e.name_index);
        put_u16(region, off + 2, e.value_offs);
        put_u32(region, off + 4, e.value_inum);
        put_u32(region, off + 8, e.value.len() as u32);
        put_u32(region, off + 12, e.hash);
        put(region, off + ENTRY_HEADER, &e.name);
        off += entry_len;
    }
    Ok(())
}

/// An xattr block's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XattrBlockHeader {
    /// Inodes sharing the block.
    pub refcount: u32,
    /// `h_blocks` (1).
    pub blocks: u32,
    /// `h_hash`.
    pub hash: u32,
    /// `h_checksum`.
    pub checksum: u32,
}

/// Parses an xattr block: header and entries.
pub fn parse_xattr_block(b: &[u8]) -> Result<(XattrBlockHeader, Vec<XattrEntry>)> {
    need("xattr block", b, BLOCK_HEADER_SIZE)?;
    let magic = u32_at(b, 0);
    if magic != XATTR_MAGIC {
        return Err(FormatError::new(
            "xattr block",
            Corruption::BadMagic { found: magic, expected: XATTR_MAGIC },
        ));
    }
    let h = XattrBlockHeader {
        refcount: u32_at(b, 4),
        blocks: u32_at(b, 8),
        hash: u32_at(b, 12),
        checksum: u32_at(b, 16),
    };
    if h.blocks != 1 {
        return Err(FormatError::invalid("xattr block", format!("h_blocks {}, expected 1", h.blocks)));
    }
    Ok((h, parse_entries(b, BLOCK_HEADER_SIZE, 0)?))
}

/// Encodes an xattr block: the header as given (the kernel keeps `h_hash` as
/// [`block_hash`]; e2fsprogs writes 0), entries with their hashes, and values at their
/// offsets. The checksum is written as given too: set it with [`set_xattr_block_csum`].
pub fn encode_xattr_block(entries: &[XattrEntry], header: &XattrBlockHeader, b: &mut [u8]) -> Result<()> {
    b.fill(0);
    encode_entries(entries, b, BLOCK_HEADER_SIZE, 0)?;
    put_u32(b, 0, XATTR_MAGIC);
    put_u32(b, 4, header.refcount);
    put_u32(b, 8, header.blocks);
    put_u32(b, 12, header.hash);
    put_u32(b, BLOCK_CSUM_OFF, header.checksum);
    Ok(())
}

/// The block checksum: crc32c(fs seed, le64 block number, block with `h_checksum` zero).
pub fn xattr_block_csum(b: &[u8], fs_seed: u32, block_nr: u64) -> u32 {
    let c = crc32c_raw(fs_seed, &block_nr.to_le_bytes());
    let c = crc32c_raw(c, slice(b, 0, BLOCK_CSUM_OFF));
    let c = crc32c_raw(c, &[0; 4]);
    crc32c_raw(c, b.get(BLOCK_CSUM_OFF + 4..).unwrap_or(&[]))
}

/// Verifies an xattr block's checksum.
pub fn verify_xattr_block(b: &[u8], fs_seed: u32, block_nr: u64) -> Result<()> {
    need("xattr block", b, BLOCK_HEADER_SIZE)?;
    check_csum("xattr block", u32_at(b, BLOCK_CSUM_OFF), xattr_block_csum(b, fs_seed, block_nr))
}

/// Stores an xattr block's checksum.
pub fn set_xattr_block_csum(b: &mut [u8], fs_seed: u32, block_nr: u64) {
    let c = xattr_block_csum(b, fs_seed, block_nr);
    put_u32(b, BLOCK_CSUM_OFF, c);
}

#[cfg(test)]
mod tests;
