//! How a rule's values are masked: a property of the rule, written in its
//! pattern file (`mask = "prefix"`). The masking itself is the policy's job
//! (`policy::mask`); the rule only names the style, so the catalog stays
//! data and imports nothing from the engine.

/// How a rule's values are masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskStyle {
    /// Card numbers (which digits stay is the policy's `PanMask`).
    Pan,
    /// Keep the domain of an e-mail address.
    Email,
    /// Keep the last 4 digits.
    Last4,
    /// Keep the public prefix of a key or token.
    Prefix,
    /// Mask everything.
    All,
}

impl MaskStyle {
    /// Parses a style name as written in a pattern file.
    pub fn from_name(name: &str) -> Option<MaskStyle> {
        Some(match name {
            "pan" => MaskStyle::Pan,
            "email" => MaskStyle::Email,
            "last4" => MaskStyle::Last4,
            "prefix" => MaskStyle::Prefix,
            "all" => MaskStyle::All,
            _ => return None,
        })
    }

    /// Every accepted name, for error messages.
    pub const NAMES: &'static [&'static str] = &["pan", "email", "last4", "prefix", "all"];
}
