//! URL encoding and MQTT property bags (reference §1.5 for `sr`/`sig`, §1.6 for bags).
//!
//! The encoding keeps the characters JavaScript's `encodeURIComponent` keeps (the Azure
//! samples' choice: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`) and writes every other byte as `%XX` with
//! upper-case hex. A property bag is `k1=v1&k2=v2` with keys and values URL-encoded; a key
//! with a null value is written bare (`key`), an empty value as `key=` (reference §1.6).

use std::fmt::{self, Write};

/// A property bag could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropsError {
    #[error("bad percent-escape at byte {at} of `{text}`")]
    BadEscape { text: String, at: usize },
    #[error("percent-decoded text of `{0}` is not UTF-8")]
    NotUtf8(String),
}

fn keeps(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
}

/// Writes `s` URL-encoded into `out` (no allocation of its own).
pub fn url_encode_into(out: &mut impl Write, s: &str) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if keeps(b) {
            out.write_char(b as char)?;
        } else {
            out.write_char('%')?;
            out.write_char(HEX[(b >> 4) as usize] as char)?;
            out.write_char(HEX[(b & 15) as usize] as char)?;
        }
    }
    Ok(())
}

/// `s` URL-encoded.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    url_encode_into(&mut out, s).expect("writing to a String cannot fail");
    out
}

/// The byte length of `s` once URL-encoded.
pub fn url_encoded_len(s: &str) -> usize {
    s.bytes().map(|b| if keeps(b) { 1 } else { 3 }).sum()
}

/// Decodes `%XX` escapes (and leaves `+` alone: the bag format does not use form encoding).
pub fn url_decode(s: &str) -> Result<String, PropsError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(PropsError::BadEscape {
                    text: s.to_string(),
                    at: i,
                });
            };
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PropsError::NotUtf8(s.to_string()))
}

/// A decoded property bag: ordered `(key, value)` pairs, `None` for a null value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropertyBag(pub Vec<(String, Option<String>)>);

impl PropertyBag {
    /// Parses `k1=v1&k2&k3=` (the part of a topic after the last fixed segment).
    pub fn parse(s: &str) -> Result<Self, PropsError> {
        let mut pairs = Vec::new();
        for part in s.split('&').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((k, v)) => pairs.push((url_decode(k)?, Some(url_decode(v)?))),
                None => pairs.push((url_decode(part)?, None)),
            }
        }
        Ok(PropertyBag(pairs))
    }

    /// The value of `key`: `None` if absent, `Some(None)` if present with a null value.
    pub fn get(&self, key: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref())
    }

    /// Writes the bag in wire form.
    pub fn write_into(&self, out: &mut impl Write) -> fmt::Result {
        write_bag(out, self.0.iter().map(|(k, v)| (k.as_str(), v.as_deref())))
    }

    pub fn encode(&self) -> String {
        let mut s = String::new();
        self.write_into(&mut s).expect("String write");
        s
    }
}

/// Writes `pairs` as a property bag.
pub fn write_bag<'a>(
    out: &mut impl Write,
    pairs: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> fmt::Result {
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.write_char('&')?;
        }
        // System-property keys are written `$.ct`, unescaped, as in the docs' example
        // topic (reference §1.6); everything else in a key is escaped as in a value.
        for (j, piece) in k.split('$').enumerate() {
            if j > 0 {
                out.write_char('$')?;
            }
            url_encode_into(out, piece)?;
        }
        if let Some(v) = v {
            out.write_char('=')?;
            url_encode_into(out, v)?;
        }
    }
    Ok(())
}

/// A `fmt::Write` that only counts bytes, to size an encoding without allocating it.
#[derive(Default, Debug, Clone, Copy)]
pub struct ByteCounter(pub usize);

impl Write for ByteCounter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_encode_uri_component() {
        assert_eq!(url_encode("application/json"), "application%2Fjson");
        assert_eq!(url_encode("a b+c=d&e"), "a%20b%2Bc%3Dd%26e");
        assert_eq!(url_encode("AZaz09-_.!~*'()"), "AZaz09-_.!~*'()");
        assert_eq!(url_encoded_len("a/b"), url_encode("a/b").len());
        assert_eq!(url_decode("a%20b%2Fc").unwrap(), "a b/c");
        assert!(url_decode("a%2").is_err());
    }

    #[test]
    fn a_bag_writes_null_as_a_bare_key_and_empty_as_key_equals() {
        let bag = PropertyBag(vec![
            ("$.ct".into(), Some("application/json".into())),
            ("flag".into(), None),
            ("empty".into(), Some(String::new())),
        ]);
        let s = bag.encode();
        assert_eq!(s, "$.ct=application%2Fjson&flag&empty=");
        assert_eq!(PropertyBag::parse(&s).unwrap(), bag);
        assert_eq!(bag.get("flag"), Some(None));
        assert_eq!(bag.get("nope"), None);
    }
}
