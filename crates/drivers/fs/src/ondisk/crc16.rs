//! crc16 (the ANSI/IBM polynomial 0x8005, bit-reflected as 0xA001), which `uninit_bg`
//! (`gdt_csum`) group descriptors use when metadata_csum is off.

/// The reflected crc16 register after `data`, starting from `crc`.
pub fn crc16(mut crc: u16, data: &[u8]) -> u16 {
    for &byte in data {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xA001 } else { crc >> 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_value() {
        // CRC-16/ARC of "123456789" (init 0) is 0xBB3D.
        assert_eq!(super::crc16(0, b"123456789"), 0xBB3D);
    }
}
