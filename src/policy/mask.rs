//! Masks: keep a documented part of a secret, replace the rest with a fixed
//! character.
//!
//! - `pan`: at most the first 6 and last 4 digits (what PCI DSS permits to
//!   display), separators kept: `4111-11**-****-1111`; or the last 4 only;
//!   or no digit at all.
//! - `email`: the domain: `****@example.com`.
//! - `last4`: the last 4 digits, separators kept: `***-**-6789`.
//! - `prefix`: a public prefix up to its last `_` or `-` (within the first
//!   12 bytes): `sk_live_****`, `ghp_****`, `xoxb-****`.
//! - `all`: every byte.
//!
//! A masked value never holds a run of digits long enough to be a card or
//! any other secret, so scrubbing the output again finds nothing.

pub use crate::rules::MaskStyle;

/// What a card-number mask keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanMask {
    /// The first 6 and the last 4 digits.
    First6Last4,
    /// The last 4 digits.
    Last4,
    /// No digit.
    None,
}

impl PanMask {
    /// Parses `first6_last4`, `last4` or `none`.
    pub fn from_name(name: &str) -> Option<PanMask> {
        Some(match name {
            "first6_last4" => PanMask::First6Last4,
            "last4" => PanMask::Last4,
            "none" => PanMask::None,
            _ => return None,
        })
    }
}

/// Writes `value` masked in `style` into `out`. Bytes that would need
/// escaping inside a JSON string or a quoted field (`"`, `\\`, `'`, control
/// bytes) are masked too, so a masked value can replace a span of any
/// encoded text.
pub fn write_mask(style: MaskStyle, pan: PanMask, mask: u8, value: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    write_mask_raw(style, pan, mask, value, out);
    for b in &mut out[start..] {
        if matches!(*b, b'"' | b'\\' | b'\'') || *b < 0x20 || *b == 0x7f {
            *b = mask;
        }
    }
}

fn write_mask_raw(style: MaskStyle, pan: PanMask, mask: u8, value: &[u8], out: &mut Vec<u8>) {
    match style {
        MaskStyle::Pan => {
            let (head, tail) = match pan {
                PanMask::First6Last4 => (6, 4),
                PanMask::Last4 => (0, 4),
                PanMask::None => (0, 0),
            };
            keep_digits(value, head, tail, mask, out);
        }
        MaskStyle::Last4 => keep_digits(value, 0, 4, mask, out),
        MaskStyle::Email => match memchr::memrchr(b'@', value) {
            Some(at) => {
                out.extend(std::iter::repeat_n(mask, at.clamp(1, 8)));
                out.extend_from_slice(&value[at..]);
            }
            None => out.extend(std::iter::repeat_n(mask, value.len().min(8))),
        },
        MaskStyle::Prefix => {
            let window = &value[..value.len().min(12)];
            let keep = window
                .iter()
                .rposition(|&b| b == b'_' || b == b'-')
                .map_or(0, |i| i + 1);
            // Never keep so much that little is hidden.
            let keep = if value.len() - keep < 8 { 0 } else { keep };
            out.extend_from_slice(&value[..keep]);
            out.extend(std::iter::repeat_n(mask, 4));
        }
        MaskStyle::All => out.extend(std::iter::repeat_n(mask, value.len().clamp(4, 16))),
    }
}

/// Keeps the first `head` and last `tail` digits, masks the other digits,
/// and copies every non-digit byte.
fn keep_digits(value: &[u8], head: usize, tail: usize, mask: u8, out: &mut Vec<u8>) {
    let total = value.iter().filter(|b| b.is_ascii_digit()).count();
    // Keep at most half of the digits visible.
    let (head, tail) = if head + tail > total / 2 + 2 {
        (0, tail.min(total / 3))
    } else {
        (head, tail)
    };
    let mut seen = 0;
    for &b in value {
        if b.is_ascii_digit() {
            let keep = seen < head || seen >= total - tail;
            out.push(if keep { b } else { mask });
            seen += 1;
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(style: MaskStyle, pan: PanMask, value: &str) -> String {
        let mut out = Vec::new();
        write_mask(style, pan, b'*', value.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn pan_masks_keep_separators() {
        assert_eq!(
            masked(MaskStyle::Pan, PanMask::First6Last4, "4111-1111-1111-1111"),
            "4111-11**-****-1111"
        );
        assert_eq!(
            masked(MaskStyle::Pan, PanMask::First6Last4, "4111111111111111"),
            "411111******1111"
        );
        assert_eq!(
            masked(MaskStyle::Pan, PanMask::Last4, "4111 1111 1111 1111"),
            "**** **** **** 1111"
        );
        assert_eq!(
            masked(MaskStyle::Pan, PanMask::None, "378282246310005"),
            "***************"
        );
    }

    #[test]
    fn other_masks() {
        assert_eq!(
            masked(MaskStyle::Email, PanMask::None, "alice@example.com"),
            "*****@example.com"
        );
        assert_eq!(
            masked(MaskStyle::Last4, PanMask::None, "123-45-6789"),
            "***-**-6789"
        );
        assert_eq!(
            masked(
                MaskStyle::Prefix,
                PanMask::None,
                "sk_live_DdFx4Yrn0YfBvX3zb6C7wZc6"
            ),
            "sk_live_****"
        );
        assert_eq!(
            masked(MaskStyle::Prefix, PanMask::None, "xoxb-1234-abcdefghijkl"),
            "xoxb-1234-****"
        );
        assert_eq!(
            masked(MaskStyle::Prefix, PanMask::None, "hunter2hunter2"),
            "****"
        );
        assert_eq!(masked(MaskStyle::All, PanMask::None, "123"), "****");
        assert_eq!(
            masked(MaskStyle::Prefix, PanMask::None, "tok_\"quoted\\value\n"),
            "tok_****"
        );
        assert_eq!(
            masked(MaskStyle::Email, PanMask::None, "a@b\"c.com"),
            "*@b*c.com"
        );
    }
}
