//! Base-36 encodings used in storage and keys.
//!
//! SHA-1 digests are stored in base 36 (lowercase, left-padded with `0` to 31 characters), while
//! the API shows them as 40 lowercase hex characters. Filekeys use base 36 for their numeric
//! parts. The conversions work on plain byte arrays (base-256 big numbers), so no big-integer
//! dependency is needed.

/// Length of a SHA-1 digest in bytes.
const SHA1_BYTES: usize = 20;
/// Length of a SHA-1 digest written in base 36 (36^31 > 2^160 > 36^30).
pub const SHA1_BASE36_LEN: usize = 31;
/// Length of a SHA-1 digest written in hex.
pub const SHA1_HEX_LEN: usize = 40;

const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Value of one base-36 digit (case-insensitive), or `None`.
fn digit_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'z' => Some(c - b'a' + 10),
        b'A'..=b'Z' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Divides the big-endian base-256 number in `num` by `divisor` in place and returns the
/// remainder.
fn div_rem_in_place(num: &mut [u8], divisor: u32) -> u32 {
    let mut rem: u32 = 0;
    for byte in num.iter_mut() {
        let cur = (rem << 8) | u32::from(*byte);
        // cur < divisor * 256, so the quotient fits in a byte.
        *byte = (cur / divisor) as u8;
        rem = cur % divisor;
    }
    rem
}

/// Converts a 40-character hex SHA-1 (either case) to the 31-character lowercase base-36 form
/// used in the database (`img_sha1`, `oi_sha1`, `fa_sha1`, `us_sha1`, log `img_sha1`).
/// Returns `None` unless the input is exactly 40 hex digits.
pub fn sha1_hex_to_base36(hex: &str) -> Option<String> {
    if hex.len() != SHA1_HEX_LEN {
        return None;
    }
    let mut num = [0u8; SHA1_BYTES];
    hex::decode_to_slice(hex, &mut num).ok()?;
    let mut out = vec![b'0'; SHA1_BASE36_LEN];
    for slot in out.iter_mut().rev() {
        let rem = div_rem_in_place(&mut num, 36);
        *slot = DIGITS[rem as usize];
    }
    // 36^31 exceeds 2^160, so the number is always fully consumed.
    if num.iter().any(|&b| b != 0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// Converts a 31-character base-36 SHA-1 (either case) back to 40 lowercase hex characters.
/// Returns `None` unless the input is exactly 31 base-36 digits whose value fits in 160 bits.
pub fn sha1_base36_to_hex(b36: &str) -> Option<String> {
    if b36.len() != SHA1_BASE36_LEN {
        return None;
    }
    let mut num = [0u8; SHA1_BYTES];
    for &c in b36.as_bytes() {
        let mut carry = u32::from(digit_value(c)?);
        for byte in num.iter_mut().rev() {
            let cur = u32::from(*byte) * 36 + carry;
            *byte = (cur & 0xff) as u8;
            carry = cur >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(hex::encode(num))
}

/// Writes `n` in lowercase base 36 without padding (`0` for zero), as filekeys do.
pub fn to_base36_u128(mut n: u128) -> String {
    if n == 0 {
        return "0".to_owned();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize] as char);
        n /= 36;
    }
    out.iter().rev().collect()
}

/// Parses a base-36 number (either case). `None` for empty input, a non-base-36 character or
/// overflow.
pub fn from_base36_u128(s: &str) -> Option<u128> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u128, |acc, c| {
        acc.checked_mul(36)?
            .checked_add(u128::from(digit_value(c)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (base36 from `list=logevents` params.img_sha1, hex from imageinfo/allimages `sha1`),
    /// taken from the reference transcripts (10-readback and others).
    const PAIRS: &[(&str, &str)] = &[
        (
            "072r6zih8ufzmjiub6i20yecda359jb",
            "01aecc607edc68625603651407975c87884fda87",
        ),
        (
            "2p8pnuagj1xtzhycrsajxt709t4pnh9",
            "171fcd254ab0150c175473390b55eeae6c5feb1d",
        ),
        (
            "35x6dq32bvedo94406yoywhoccpqwca",
            "1b1734008e6a178615103990eddf28fafb8f4f3a",
        ),
        (
            "4axrddrhexst1qmv65p3v6muhltp5oi",
            "24d8254406a8dbe0b4b77e3aef2277ea31822a02",
        ),
        (
            "c4kch06xl7wwqe6marsivq3dfd5k7sd",
            "67d0c5c6879da5c92e9e2f6cce2889d167bf0d6d",
        ),
        (
            "ezdm0gdxrbcswdm1dhjxo61s2leonee",
            "8043b68f1f882721f42f3486c8301f1175cdee76",
        ),
        (
            "fe6bfqmwvj15nwzqw9vomsfcz5jl79p",
            "83c888b2309db153f2f5f4bd40552f76f0a46f0d",
        ),
        (
            "lx5dvbkyxdpf8th64j1d35omdsu56dw",
            "bba90c8f7f8e66cac097526cea9bd06836f7cd94",
        ),
        (
            "tk4dtjlff0y5yyd2yej4n99yanywjt6",
            "fd0c86eb3d2b52d3224ff0cdda7e89c6c55b6a4a",
        ),
    ];

    #[test]
    fn transcript_pairs_convert_both_ways() {
        for (b36, hex) in PAIRS {
            assert_eq!(sha1_hex_to_base36(hex).as_deref(), Some(*b36), "{hex}");
            assert_eq!(sha1_base36_to_hex(b36).as_deref(), Some(*hex), "{b36}");
        }
    }

    #[test]
    fn leading_zero_padding() {
        // The first pair's base-36 form starts with a padding zero.
        assert!(PAIRS[0].0.starts_with('0'));
        assert_eq!(
            sha1_hex_to_base36(&"0".repeat(40)).as_deref(),
            Some("0000000000000000000000000000000")
        );
        assert_eq!(
            sha1_base36_to_hex(&"0".repeat(31)).as_deref(),
            Some("0000000000000000000000000000000000000000")
        );
        assert_eq!(
            sha1_hex_to_base36("0000000000000000000000000000000000000024").as_deref(),
            Some("0000000000000000000000000000010")
        );
    }

    #[test]
    fn maximum_value_round_trips() {
        let max = "f".repeat(40);
        let b36 = sha1_hex_to_base36(&max).unwrap();
        assert_eq!(b36, "twj4yidkw7a8pn4g709kzmfoaol3x8f");
        assert_eq!(sha1_base36_to_hex(&b36).unwrap(), max);
    }

    #[test]
    fn uppercase_input_is_accepted_output_is_lowercase() {
        let (b36, hex) = PAIRS[1];
        assert_eq!(
            sha1_hex_to_base36(&hex.to_uppercase()).as_deref(),
            Some(b36)
        );
        assert_eq!(
            sha1_base36_to_hex(&b36.to_uppercase()).as_deref(),
            Some(hex)
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(sha1_hex_to_base36(""), None);
        assert_eq!(sha1_hex_to_base36(&"a".repeat(39)), None);
        assert_eq!(sha1_hex_to_base36(&"a".repeat(41)), None);
        assert_eq!(sha1_hex_to_base36(&format!("{}g", "a".repeat(39))), None);
        assert_eq!(sha1_base36_to_hex(""), None);
        assert_eq!(sha1_base36_to_hex(&"a".repeat(30)), None);
        assert_eq!(sha1_base36_to_hex(&"a".repeat(32)), None);
        assert_eq!(sha1_base36_to_hex(&format!("{}-", "a".repeat(30))), None);
        // 31 base-36 digits can exceed 160 bits.
        assert_eq!(sha1_base36_to_hex(&"z".repeat(31)), None);
        assert_eq!(sha1_base36_to_hex("twj4yidkw7a8pn4g709kzmfoaol3x8g"), None);
    }

    #[test]
    fn u128_encoding() {
        assert_eq!(to_base36_u128(0), "0");
        assert_eq!(to_base36_u128(35), "z");
        assert_eq!(to_base36_u128(36), "10");
        assert_eq!(to_base36_u128(u128::MAX), "f5lxx1zz5pnorynqglhzmsp33");
        // Filekey parts from the transcripts round-trip.
        for part in ["1d3nsrtz43e0", "hifgcs", "1d3nrxb75eu8", "xixj9i", "v02nyw"] {
            let n = from_base36_u128(part).unwrap();
            assert_eq!(to_base36_u128(n), part);
        }
        assert_eq!(from_base36_u128(""), None);
        assert_eq!(from_base36_u128("a-b"), None);
        assert_eq!(from_base36_u128(&"z".repeat(30)), None);
        assert_eq!(from_base36_u128("Z"), Some(35));
    }
}
