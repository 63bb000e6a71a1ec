//! Identifiers with the character rules of the real services.
//!
//! - Device id (reference §1.4): case-sensitive, 1..=128 characters, ASCII alphanumerics plus
//!   `- . + % _ # * ? ! ( ) , = @ $ '`.
//! - DPS registration id (reference §2.2): lower-case alphanumerics and `-`. The reference
//!   gives no length limit; we assume the device-id limit of 128 **[assumption]**.
//!
//! Both are `Arc<str>` inside, so cloning one into a message is a reference-count increment,
//! not an allocation.

use std::fmt;
use std::sync::Arc;

/// Maximum length of a device id (reference §1.4) and, by assumption, a registration id.
pub const ID_LEN_MAX: usize = 128;

/// An identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty; expected 1..={ID_LEN_MAX} characters")]
    Empty { kind: &'static str },
    #[error("{kind} `{value}` is {len} characters long; at most {ID_LEN_MAX} are allowed")]
    TooLong {
        kind: &'static str,
        value: String,
        len: usize,
    },
    #[error("{kind} `{value}` contains {ch:?}, which is not allowed ({allowed})")]
    BadChar {
        kind: &'static str,
        value: String,
        ch: char,
        allowed: &'static str,
    },
}

fn check(
    kind: &'static str,
    s: &str,
    ok: impl Fn(char) -> bool,
    allowed: &'static str,
) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > ID_LEN_MAX {
        return Err(IdError::TooLong {
            kind,
            value: s.to_string(),
            len: s.len(),
        });
    }
    if let Some(ch) = s.chars().find(|&c| !ok(c)) {
        return Err(IdError::BadChar {
            kind,
            value: s.to_string(),
            ch,
            allowed,
        });
    }
    Ok(())
}

/// True for the characters IoT Hub allows in a device id (reference §1.4).
pub fn is_device_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.+%_#*?!(),=@$'".contains(c)
}

/// A validated IoT Hub device id.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(Arc<str>);

impl DeviceId {
    pub fn new(s: &str) -> Result<Self, IdError> {
        Self::from_arc(Arc::from(s))
    }
    /// Validates and keeps the caller's string (no copy): a world that hands the hub the
    /// same `Arc` the device holds lets the hub match topics by pointer.
    pub fn from_arc(s: Arc<str>) -> Result<Self, IdError> {
        check(
            "device id",
            &s,
            is_device_id_char,
            "ASCII alphanumerics and - . + % _ # * ? ! ( ) , = @ $ '",
        )?;
        Ok(DeviceId(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn as_arc(&self) -> &Arc<str> {
        &self.0
    }
}

/// A validated DPS registration id.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistrationId(Arc<str>);

impl RegistrationId {
    pub fn new(s: &str) -> Result<Self, IdError> {
        check(
            "registration id",
            s,
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
            "lower-case alphanumerics and -",
        )?;
        Ok(RegistrationId(Arc::from(s)))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn as_arc(&self) -> &Arc<str> {
        &self.0
    }
    /// The device id DPS assigns by default: the registration id itself (every registration
    /// id is a valid device id).
    pub fn to_device_id(&self) -> DeviceId {
        DeviceId(self.0.clone())
    }
}

macro_rules! show {
    ($t:ty) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
show!(DeviceId);
show!(RegistrationId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_id_from_an_arc_is_validated_and_shares_the_string() {
        let s: Arc<str> = Arc::from("cow-0000017");
        let id = DeviceId::from_arc(s.clone()).unwrap();
        assert!(Arc::ptr_eq(id.as_arc(), &s));
        assert_eq!(id, DeviceId::new("cow-0000017").unwrap());
        assert!(DeviceId::from_arc(Arc::from("cow 17")).is_err());
        assert!(DeviceId::from_arc(Arc::from("")).is_err());
    }

    #[test]
    fn device_ids_follow_the_registry_rules() {
        assert!(DeviceId::new("cow-000017").is_ok());
        assert!(DeviceId::new("A.b+c%d_e#f*g?h!i(j)k,l=m@n$o'p").is_ok());
        assert!(matches!(
            DeviceId::new("has space"),
            Err(IdError::BadChar { ch: ' ', .. })
        ));
        assert!(matches!(DeviceId::new(""), Err(IdError::Empty { .. })));
        assert!(matches!(
            DeviceId::new(&"x".repeat(129)),
            Err(IdError::TooLong { len: 129, .. })
        ));
        assert!(DeviceId::new(&"x".repeat(128)).is_ok());
    }

    #[test]
    fn registration_ids_are_lower_case_alphanumerics_and_dashes() {
        assert!(RegistrationId::new("sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6").is_ok());
        assert!(RegistrationId::new("Cow-1").is_err());
        assert!(RegistrationId::new("cow_1").is_err());
    }
}
