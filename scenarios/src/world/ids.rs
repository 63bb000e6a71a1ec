//! Device ids from a pattern: `cow-{index:07}` names device 42 `cow-0000042`, and the world
//! reads the index back from an id the cloud hands it (a DPS assignment) without a lookup
//! table, so a million devices cost no map.

use std::fmt;

/// A device id pattern: a prefix, the class-local index (zero-padded to `width` digits, or
/// as it is when `width` is 0) and a suffix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPattern {
    prefix: String,
    width: usize,
    suffix: String,
}

/// A pattern that cannot name devices.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pattern:?}: {message}")]
pub struct IdPatternError {
    pub pattern: String,
    pub message: String,
}

impl IdPattern {
    /// Parses `prefix{index}suffix` or `prefix{index:0W}suffix` (W from 1 to 10). Ids may
    /// hold what IoT Hub allows in a device id: ASCII letters, digits and `-.%_*?!(),:=@$'`
    /// (reference §1.3), at most 128 characters.
    pub fn parse(pattern: &str) -> Result<IdPattern, IdPatternError> {
        let err = |message: &str| IdPatternError {
            pattern: pattern.to_string(),
            message: message.to_string(),
        };
        let open = pattern
            .find('{')
            .ok_or_else(|| err("expected `{index}` or `{index:0W}` in the pattern"))?;
        let close = pattern[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| err("an unclosed `{`"))?;
        let width = match &pattern[open + 1..close] {
            "index" => 0,
            spec => {
                let w = spec
                    .strip_prefix("index:0")
                    .and_then(|w| w.parse::<usize>().ok())
                    .filter(|w| (1..=10).contains(w))
                    .ok_or_else(|| err("expected `{index}` or `{index:0W}` with W from 1 to 10"))?;
                w
            }
        };
        let (prefix, suffix) = (&pattern[..open], &pattern[close + 1..]);
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-.%_*?!(),:=@$'".contains(c);
        if !prefix.chars().chain(suffix.chars()).all(allowed) {
            return Err(err(
                "ids may hold only ASCII letters, digits and -.%_*?!(),:=@$' (reference §1.3)",
            ));
        }
        if prefix.len() + suffix.len() + width.max(10) > 128 {
            return Err(err("ids are at most 128 characters (reference §1.3)"));
        }
        if prefix.ends_with(|c: char| c.is_ascii_digit())
            || suffix.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(err("a digit next to `{index}` would make ids ambiguous"));
        }
        Ok(IdPattern {
            prefix: prefix.to_string(),
            width,
            suffix: suffix.to_string(),
        })
    }

    /// The id of device `index`.
    pub fn format(&self, index: u32) -> String {
        format!(
            "{}{:0width$}{}",
            self.prefix,
            index,
            self.suffix,
            width = self.width
        )
    }

    /// The index an id names, if it is one of this pattern's ids (exactly as
    /// [`IdPattern::format`] writes it).
    pub fn index_of(&self, id: &str) -> Option<u32> {
        let digits = id.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let canonical = if self.width == 0 {
            digits.len() == 1 || !digits.starts_with('0')
        } else {
            digits.len() == self.width || (digits.len() > self.width && !digits.starts_with('0'))
        };
        if !canonical {
            return None;
        }
        digits.parse().ok()
    }
}

impl fmt::Display for IdPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.width == 0 {
            write!(f, "{}{{index}}{}", self.prefix, self.suffix)
        } else {
            write!(f, "{}{{index:0{}}}{}", self.prefix, self.width, self.suffix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_padded_pattern_formats_and_reads_back_its_ids() {
        let p = IdPattern::parse("cow-{index:07}").unwrap();
        assert_eq!(p.format(42), "cow-0000042");
        assert_eq!(p.index_of("cow-0000042"), Some(42));
        assert_eq!(p.index_of("cow-42"), None, "not as the pattern writes it");
        assert_eq!(p.index_of("cow-00000042"), None);
        assert_eq!(
            p.index_of("cow-12345678"),
            Some(12_345_678),
            "wider than the padding"
        );
        assert_eq!(p.index_of("bull-0000042"), None);
        assert_eq!(p.to_string(), "cow-{index:07}");
    }

    #[test]
    fn an_unpadded_pattern_with_a_suffix_reads_back_only_canonical_ids() {
        let p = IdPattern::parse("home-{index}.thermostat").unwrap();
        assert_eq!(p.format(7), "home-7.thermostat");
        assert_eq!(p.index_of("home-7.thermostat"), Some(7));
        assert_eq!(p.index_of("home-07.thermostat"), None);
        assert_eq!(p.index_of("home-0.thermostat"), Some(0));
        assert_eq!(p.index_of("home-.thermostat"), None);
        assert_eq!(
            p.index_of("home-99999999999.thermostat"),
            None,
            "beyond u32"
        );
    }

    #[test]
    fn a_bad_pattern_says_what_is_wrong() {
        for (p, want) in [
            ("cow", "expected `{index}`"),
            ("cow-{index", "unclosed"),
            ("cow-{idx}", "expected `{index}`"),
            ("cow-{index:011}", "W from 1 to 10"),
            ("cow {index}", "ASCII letters"),
            ("cow7{index}", "ambiguous"),
        ] {
            let e = IdPattern::parse(p).unwrap_err().to_string();
            assert!(e.contains(want), "{p}: {e}");
        }
    }
}
