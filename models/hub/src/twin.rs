//! Device twins (reference §1.9): tags, desired and reported sections with their own
//! strictly increasing `$version`, patch semantics (merge; `null` deletes), and the size,
//! depth and key rules.
//!
//! Size of a section = sum over keys of the key length plus the value length (strings:
//! UTF-8 bytes, numbers 8, booleans 4), counted recursively; limits 8 KB tags, 32 KB desired,
//! 32 KB reported. Keys: non-empty, at most 1 KB, no control characters, `.`, `$` or space.
//! String values at most 4 KB. Object depth at most 10. An operation that would break a
//! limit is rejected and changes nothing. Left out: `$metadata`/`$lastUpdated`, etags.

use serde_json::{Map, Value};

pub const TAGS_BYTES_MAX: usize = 8 * 1024;
pub const DESIRED_BYTES_MAX: usize = 32 * 1024;
pub const REPORTED_BYTES_MAX: usize = 32 * 1024;
pub const KEY_BYTES_MAX: usize = 1024;
pub const STRING_BYTES_MAX: usize = 4 * 1024;
pub const DEPTH_MAX: usize = 10;

/// Why a twin operation was rejected (HTTP 400 on the device side).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwinError {
    #[error("twin patch is not a JSON object")]
    NotAnObject,
    #[error("twin key `{0}` is not allowed (empty, > 1 KB, or contains `.`, `$`, space or a control character)")]
    BadKey(String),
    #[error("twin string value of {0} bytes exceeds 4 KB")]
    StringTooLong(usize),
    #[error("twin object depth exceeds {DEPTH_MAX}")]
    TooDeep,
    #[error("twin section would be {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
}

/// One device's twin.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Twin {
    pub tags: Map<String, Value>,
    pub desired: Map<String, Value>,
    pub desired_version: u64,
    pub reported: Map<String, Value>,
    pub reported_version: u64,
}

/// Which section a patch applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Tags,
    Desired,
    Reported,
}

fn check_key(k: &str) -> Result<(), TwinError> {
    if k.is_empty()
        || k.len() > KEY_BYTES_MAX
        || k.chars()
            .any(|c| c.is_control() || c == '.' || c == '$' || c == ' ')
    {
        return Err(TwinError::BadKey(k.to_string()));
    }
    Ok(())
}

/// Checks keys, string lengths and depth of a patch or section.
fn check_value(v: &Value, depth: usize) -> Result<(), TwinError> {
    match v {
        Value::Object(m) => {
            if depth > DEPTH_MAX {
                return Err(TwinError::TooDeep);
            }
            for (k, v) in m {
                check_key(k)?;
                check_value(v, depth + 1)?;
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(|v| check_value(v, depth)),
        Value::String(s) if s.len() > STRING_BYTES_MAX => Err(TwinError::StringTooLong(s.len())),
        _ => Ok(()),
    }
}

/// The documented twin size of a value (reference §1.9).
pub fn twin_size(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.iter().map(|(k, v)| k.len() + twin_size(v)).sum(),
        Value::Array(a) => a.iter().map(twin_size).sum(),
        Value::String(s) => s.len(),
        Value::Number(_) => 8,
        Value::Bool(_) => 4,
        Value::Null => 0,
    }
}

/// Merges `patch` into `target`: objects merge recursively, `null` deletes.
pub fn merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(p) => {
                let slot = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(t) = slot {
                    merge(t, p);
                } else {
                    let mut t = Map::new();
                    merge(&mut t, p);
                    *slot = Value::Object(t);
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

impl Twin {
    /// Applies a patch to a section and bumps its version. Returns the new version (tags
    /// carry none; 0 is returned).
    pub fn patch(&mut self, section: Section, patch: &Value) -> Result<u64, TwinError> {
        let Value::Object(p) = patch else {
            return Err(TwinError::NotAnObject);
        };
        // `$version` in a patch is metadata, not a property.
        let mut p = p.clone();
        p.remove("$version");
        check_value(&Value::Object(p.clone()), 1)?;
        let (target, limit) = match section {
            Section::Tags => (&self.tags, TAGS_BYTES_MAX),
            Section::Desired => (&self.desired, DESIRED_BYTES_MAX),
            Section::Reported => (&self.reported, REPORTED_BYTES_MAX),
        };
        let mut next = target.clone();
        merge(&mut next, &p);
        let next = Value::Object(next);
        check_value(&next, 1)?;
        let size = twin_size(&next);
        if size > limit {
            return Err(TwinError::TooLarge { size, limit });
        }
        let Value::Object(next) = next else {
            unreachable!("built as an object above")
        };
        Ok(match section {
            Section::Tags => {
                self.tags = next;
                0
            }
            Section::Desired => {
                self.desired = next;
                self.desired_version += 1;
                self.desired_version
            }
            Section::Reported => {
                self.reported = next;
                self.reported_version += 1;
                self.reported_version
            }
        })
    }

    /// The body of a twin GET response: `{"desired":{...,"$version":n},"reported":{...,"$version":m}}`.
    pub fn device_view(&self) -> Value {
        let mut d = self.desired.clone();
        d.insert("$version".into(), self.desired_version.into());
        let mut r = self.reported.clone();
        r.insert("$version".into(), self.reported_version.into());
        serde_json::json!({"desired": d, "reported": r})
    }

    /// A dotted-path lookup for enrichments: `tags.x`, `properties.desired.x`,
    /// `properties.reported.x`.
    pub fn lookup(&self, path: &str) -> Option<&Value> {
        let (map, rest) = if let Some(r) = path.strip_prefix("tags.") {
            (&self.tags, r)
        } else if let Some(r) = path.strip_prefix("properties.desired.") {
            (&self.desired, r)
        } else {
            (&self.reported, path.strip_prefix("properties.reported.")?)
        };
        let mut segs = rest.split('.');
        let mut cur = map.get(segs.next()?)?;
        for s in segs {
            cur = cur.get(s)?;
        }
        Some(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_null_in_a_patch_deletes_the_key_and_versions_increase() {
        let mut t = Twin::default();
        assert_eq!(
            t.patch(Section::Reported, &json!({"a": 1, "b": {"c": 2}})),
            Ok(1)
        );
        assert_eq!(
            t.patch(Section::Reported, &json!({"b": {"c": null}, "a": null})),
            Ok(2)
        );
        assert_eq!(Value::Object(t.reported.clone()), json!({"b": {}}));
        assert_eq!(t.patch(Section::Desired, &json!({"x": true})), Ok(1));
        assert_eq!(
            t.device_view(),
            json!({"desired": {"x": true, "$version": 1}, "reported": {"b": {}, "$version": 2}})
        );
    }

    #[test]
    fn twin_limits_reject_and_change_nothing() {
        let mut t = Twin::default();
        let big = "x".repeat(4_000);
        let mut p = Map::new();
        for i in 0..9 {
            p.insert(format!("k{i}"), Value::String(big.clone()));
        }
        assert!(matches!(
            t.patch(Section::Reported, &Value::Object(p)),
            Err(TwinError::TooLarge { .. })
        ));
        assert_eq!(t.reported_version, 0);
        assert!(matches!(
            t.patch(Section::Reported, &json!({"a.b": 1})),
            Err(TwinError::BadKey(_))
        ));
        let mut deep = json!(1);
        for _ in 0..11 {
            deep = json!({ "d": deep });
        }
        assert_eq!(t.patch(Section::Reported, &deep), Err(TwinError::TooDeep));
        assert_eq!(
            twin_size(&json!({"ab": "xyz", "n": 1, "b": true})),
            2 + 3 + 1 + 8 + 1 + 4
        );
    }
}
