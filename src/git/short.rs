//! The abbreviated object id people read in messages, tables and event lines: the first 7 hex
//! characters, like git's default `--abbrev`. JSON and files keep full ids; only text a human
//! reads is shortened, and always to the same length so ids can be compared across outputs.

use std::fmt;

use super::Oid;

/// How many hex characters an abbreviated id has (git's default).
pub const SHORT_LEN: usize = 7;

/// An object id that displays as its first [`SHORT_LEN`] hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortOid(Oid);

impl fmt::Display for ShortOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.to_hex_with_len(SHORT_LEN))
    }
}

/// The abbreviated form of `id` for messages: `format!("{}", short(id))`.
pub fn short(id: impl AsRef<gix::oid>) -> ShortOid {
    ShortOid(id.as_ref().to_owned())
}

/// The abbreviated form of an id already held as hex (reports keep full hex ids); text shorter
/// than [`SHORT_LEN`] is returned whole.
pub fn short_hex(hex: &str) -> &str {
    hex.get(..SHORT_LEN).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_have_seven_characters_for_oids_and_hex() {
        let id = Oid::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        assert_eq!(short(id).to_string(), "0123456");
        assert_eq!(short(id).to_string(), short_hex(&id.to_string()));
        assert_eq!(short_hex("abc"), "abc");
    }
}
