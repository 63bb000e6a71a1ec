//! The scenarios shipped with fleetsim, by name.

use crate::herd::HerdConfig;
use crate::herd_file::HerdFile;
use crate::load::{self, LoadError, Override, Source};

/// A bundled scenario: its name, one line about it, and its file.
pub struct Bundled {
    pub name: &'static str,
    pub summary: &'static str,
    pub file: &'static str,
    pub text: &'static str,
}

pub const BUNDLED: &[Bundled] = &[Bundled {
    name: "herd",
    summary: "the rancher's herd: 100,000 collars (GPS + temperature every 5 min) through DPS and IoT Hub to a store that flags fever and stuck cows",
    file: "scenarios/herd.toml",
    text: include_str!("../herd.toml"),
}];

/// Short `--set` names.
pub const ALIASES: &[(&str, &str)] = &[
    ("devices", "herd.cows"),
    ("seed", "scenario.seed"),
    ("hours", "scenario.duration_h"),
];

/// Finds a bundled scenario's source.
pub fn source(name: &str) -> Result<Source, LoadError> {
    BUNDLED
        .iter()
        .find(|b| b.name == name)
        .map(|b| Source {
            origin: b.file.to_string(),
            text: b.text.to_string(),
        })
        .ok_or_else(|| LoadError::UnknownScenario {
            name: name.to_string(),
            bundled: BUNDLED
                .iter()
                .map(|b| b.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Loads a herd scenario from a source with overrides, into the world's configuration.
pub fn load_herd(
    src: &Source,
    overrides: &[Override],
) -> Result<(HerdFile, HerdConfig), LoadError> {
    let file: HerdFile = load::parse(src, overrides, ALIASES)?;
    let effective = Source {
        origin: src.origin.clone(),
        text: load::apply_overrides(src, overrides, ALIASES)?,
    };
    let cfg = file.to_config().map_err(|fe| LoadError::Invalid {
        at: load::locate(&effective, &fe.field),
        field: fe.field,
        message: fe.message,
    })?;
    Ok((file, cfg))
}
