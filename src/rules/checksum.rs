//! Checksums and measures that confirm provider tokens and bank numbers:
//! the CRC32 base62 suffix of GitHub- and npm-style tokens, the ISO 13616
//! IBAN mod-97 check with each country's length, and the Shannon entropy of
//! a secret.
//!
//! Guarantees: no allocation, time linear in the input, and a `false` for
//! any input that is not exactly the documented shape (never a panic).

/// The base62 alphabet of CRC32 token suffixes: digits, upper, lower.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The CRC-32 (IEEE 802.3, reflected, as zlib computes it) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// `value` as six base62 digits, most significant first, zero-padded.
pub fn base62_6(mut value: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// True when `token` (`prefix_` + body + 6 check characters) ends with the
/// base62 CRC32 of its body: the body is what follows the last `_` before
/// the check characters, as in GitHub's and npm's token formats.
pub fn crc32_base62_valid(token: &[u8]) -> bool {
    let Some(sep) = token.iter().rposition(|&b| b == b'_') else {
        return false;
    };
    let body_and_check = &token[sep + 1..];
    if body_and_check.len() <= 6 {
        return false;
    }
    let (body, check) = body_and_check.split_at(body_and_check.len() - 6);
    base62_6(crc32(body)) == *check
}

/// The length of an IBAN for a country (ISO 13616 registry), or None for a
/// country that issues none.
fn iban_length(country: &[u8]) -> Option<usize> {
    const LENGTHS: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BI", 27),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DJ", 27),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FK", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MN", 20),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NI", 28),
        (b"NL", 18),
        (b"NO", 15),
        (b"OM", 23),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"RU", 33),
        (b"SA", 24),
        (b"SC", 31),
        (b"SD", 18),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"SO", 23),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
        (b"YE", 30),
    ];
    LENGTHS
        .iter()
        .find(|(c, _)| c.as_slice() == country)
        .map(|&(_, n)| n)
}

/// True when `text` (letters and digits, single spaces allowed between
/// groups) is an IBAN: a known country, that country's length, and the
/// mod-97 check (the first four characters moved to the end, letters as
/// 10–35, the number modulo 97 is 1).
pub fn iban_valid(text: &[u8]) -> bool {
    let mut chars = [0u8; 34];
    let mut n = 0;
    for &b in text {
        if b == b' ' {
            continue;
        }
        if !b.is_ascii_alphanumeric() || n == chars.len() {
            return false;
        }
        chars[n] = b.to_ascii_uppercase();
        n += 1;
    }
    if n < 15 || !chars[..2].iter().all(u8::is_ascii_uppercase) {
        return false;
    }
    if !chars[2..4].iter().all(u8::is_ascii_digit) || iban_length(&chars[..2]) != Some(n) {
        return false;
    }
    let mut rem = 0u32;
    for &c in chars[4..n].iter().chain(&chars[..4]) {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// The Shannon entropy of `bytes`, in bits per byte (0 for empty input).
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let total = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_reference_value() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn base62_suffix() {
        assert_eq!(&base62_6(0), b"000000");
        assert_eq!(&base62_6(61), b"00000z");
        assert_eq!(&base62_6(62), b"000010");
        let body = b"abcdefghijklmnopqrstuvwxyz0123";
        let mut token = b"npm_".to_vec();
        token.extend_from_slice(body);
        token.extend_from_slice(&base62_6(crc32(body)));
        assert!(crc32_base62_valid(&token));
        let last = token.len() - 1;
        token[last] = if token[last] == b'A' { b'B' } else { b'A' };
        assert!(!crc32_base62_valid(&token));
        assert!(!crc32_base62_valid(b"npm_abc"));
        assert!(!crc32_base62_valid(b"noseparator"));
    }

    #[test]
    fn iban_examples() {
        assert!(iban_valid(b"GB82WEST12345698765432"));
        assert!(iban_valid(b"GB82 WEST 1234 5698 7654 32"));
        assert!(iban_valid(b"DE89370400440532013000"));
        assert!(iban_valid(b"FR1420041010050500013M02606"));
        assert!(iban_valid(b"NO9386011117947"));
        // One digit changed, a wrong length, an unknown country.
        assert!(!iban_valid(b"GB82WEST12345698765433"));
        assert!(!iban_valid(b"GB82WEST1234569876543"));
        assert!(!iban_valid(b"ZZ82WEST12345698765432"));
        assert!(!iban_valid(b"GB82-WEST"));
    }

    #[test]
    fn entropy() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(shannon_entropy(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") > 4.0);
    }
}
