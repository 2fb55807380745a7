//! The value syntax every driver and front end shares: sizes, durations, booleans and
//! integers, as stack specs and options write them.
//!
//! | kind | accepted | examples |
//! |---|---|---|
//! | size | bytes, or a unit that is a power of 1024: `K`/`KiB`, `M`/`MiB`, `G`/`GiB`, `T`/`TiB`, `P`/`PiB`, `E`/`EiB` (any case), `B` for bytes | `4096`, `256M`, `1GiB`, `64k`, `1.5G` |
//! | duration | a number and a unit: `ns`, `us`/`µs`, `ms`, `s`, `m`/`min`, `h` | `500ms`, `2s`, `1.5m`, `0` |
//! | boolean | `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0` (any case) | `on` |
//! | integer | decimal, or hexadecimal after `0x` | `42`, `0x1f` |
//!
//! Decisions: `KB`, `MB`, ... are refused as ambiguous (is it 1000 or 1024?) with a
//! hint to write `M` or `MiB`. A fraction is accepted when the result is whole
//! (`1.5G` = 1610612736 bytes, `1.5K` = 1536) and refused otherwise (`1.3K`). A
//! duration needs its unit: a bare number other than `0` is refused rather than
//! guessed (is `500` milliseconds or seconds?). Negative values and values that do not
//! fit in 64 bits are errors, and so are durations longer than [`MAX_DURATION`] (a
//! year): no setting needs more, and a deadline `now + duration` must not overflow.
//! Each parameter bounds its own values further (a stack spec's `Params::get_*_in`).

use std::time::Duration;

/// The longest duration [`parse_duration`] accepts: 365 days.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why a value could not be read. A stack spec adds the layer and key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError(message.into()))
}

/// Splits `12.5GiB` into `("12.5", "GiB")`, trimming space between them.
fn split_number(s: &str) -> (&str, &str) {
    let at = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(at);
    (number, unit.trim_start())
}

/// Reads `digits[.digits]` as `mantissa / 10^scale`.
fn decimal(s: &str) -> Result<(u128, u32), ValueError> {
    let (mut mantissa, mut scale, mut digits, mut dot) = (0u128, 0u32, 0usize, false);
    for c in s.chars() {
        match c {
            '0'..='9' => {
                mantissa = mantissa
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u128::from(c as u8 - b'0')))
                    .ok_or_else(|| ValueError("too many digits".into()))?;
                digits += 1;
                scale += u32::from(dot);
            }
            '.' if !dot => dot = true,
            _ => return fail("not a number"),
        }
    }
    if digits == 0 {
        return fail("expected a number");
    }
    Ok((mantissa, scale))
}

/// `mantissa / 10^scale * unit`, which must be whole.
fn exact(mantissa: u128, scale: u32, unit: u128, whole: &str) -> Result<u128, ValueError> {
    let total = mantissa.checked_mul(unit).ok_or_else(|| ValueError("too large".into()))?;
    let denominator = 10u128.checked_pow(scale).ok_or_else(|| ValueError("too many decimals".into()))?;
    if total % denominator != 0 {
        return fail(format!("not a whole number of {whole}"));
    }
    Ok(total / denominator)
}

fn reject_sign(s: &str, what: &str) -> Result<(), ValueError> {
    match s.chars().next() {
        Some('-') => fail(format!("{what} cannot be negative")),
        Some('+') => fail("write the number without a sign"),
        _ => Ok(()),
    }
}

/// Parses a size in bytes: `4096`, `64k`, `256M`, `1GiB`, `1.5G`.
pub fn parse_size(text: &str) -> Result<u64, ValueError> {
    let s = text.trim();
    reject_sign(s, "a size")?;
    if s.is_empty() {
        return fail("expected a size such as 4096, 256M or 1GiB");
    }
    let (number, unit) = split_number(s);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        "p" | "pib" => 50,
        "e" | "eib" => 60,
        "kb" | "mb" | "gb" | "tb" | "pb" | "eb" => {
            let letter = unit[..1].to_ascii_uppercase();
            return fail(format!(
                "ambiguous unit `{unit}`: sizes count in powers of 1024, write `{letter}` or `{letter}iB`"
            ));
        }
        _ => {
            return fail(format!(
                "unknown size unit `{unit}` (use K, M, G, T, P, E, KiB, ..., or none for bytes)"
            ));
        }
    };
    let (mantissa, scale) = decimal(number)?;
    let bytes = exact(mantissa, scale, 1u128 << shift, "bytes")?;
    u64::try_from(bytes).or_else(|_| fail("too large (more than 16 EiB)"))
}

/// Parses a duration: `500ms`, `2s`, `1m`, `1.5h`, `250us`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration, ValueError> {
    let s = text.trim();
    reject_sign(s, "a duration")?;
    if s.is_empty() {
        return fail("expected a duration such as 500ms, 2s or 1m");
    }
    let (number, unit) = split_number(s);
    let (mantissa, scale) = decimal(number)?;
    let nanos_per: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" if mantissa == 0 => return Ok(Duration::ZERO),
        "" => return fail("missing unit: write e.g. `500ms`, `2s` or `1m` (ns, us, ms, s, m, h)"),
        _ => return fail(format!("unknown duration unit `{unit}` (use ns, us, ms, s, m or h)")),
    };
    let nanos = exact(mantissa, scale, nanos_per, "nanoseconds")?;
    if nanos > MAX_DURATION.as_nanos() {
        return fail("too large (at most 365 days)");
    }
    let secs = u64::try_from(nanos / 1_000_000_000).or_else(|_| fail("too large"))?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Parses a boolean: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.
pub fn parse_bool(text: &str) -> Result<bool, ValueError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => fail("expected a boolean: true/false, yes/no, on/off or 1/0"),
    }
}

/// Parses an unsigned integer, decimal or `0x` hexadecimal.
pub fn parse_u64(text: &str) -> Result<u64, ValueError> {
    let s = text.trim();
    reject_sign(s, "the number")?;
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return fail("expected a whole number");
    }
    u64::from_str_radix(digits, radix).or_else(|_| fail(format!("too large (at most {})", u64::MAX)))
}
