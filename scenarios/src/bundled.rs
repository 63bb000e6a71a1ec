//! The scenarios shipped with fleetsim, by name, and loading any scenario file against a
//! registry.

use crate::file::resolve::{resolve, Resolved};
use crate::file::{ClassEntry, LinkSection, SolutionFile, ALIASES};
use crate::load::{self, LoadError, Override, Source};
use crate::registry::Registry;

/// A bundled scenario: its name, one line about it, and its file.
pub struct Bundled {
    pub name: &'static str,
    pub summary: &'static str,
    pub file: &'static str,
    pub text: &'static str,
}

pub const BUNDLED: &[Bundled] = &[Bundled {
    name: "doors",
    summary: "an office building's door locks: 100 controllers (reed switch, deadbolt) report every change, phone users unlock under an access list with idempotent retries, the back end's door states scored against the truth after each heal",
    file: "scenarios/doors.toml",
    text: include_str!("../doors.toml"),
},
Bundled {
    name: "facility",
    summary: "a logistics yard on Azure Maps: forklifts and visitors' phones report GNSS positions; geofence alerts from Event Grid enter/exit events and directions to the main office, scored against the true tracks and the yard's shortest paths",
    file: "scenarios/facility.toml",
    text: include_str!("../facility.toml"),
},
Bundled {
    name: "herd",
    summary: "the rancher's herd: 100,000 collars (GPS + temperature every 5 min) through DPS and IoT Hub to a store that flags fever and stuck cows",
    file: "scenarios/herd.toml",
    text: include_str!("../herd.toml"),
},
Bundled {
    name: "herd-lora",
    summary: "the herd's design alternative: 20,000 LoRaWAN collars (EU868 duty cycle) through IoT Edge gateways in 40 barns, store and forward through barn uplink outages",
    file: "scenarios/herd-lora.toml",
    text: include_str!("../herd-lora.toml"),
},
Bundled {
    name: "tank",
    summary: "mixing tanks at four plants: batch temperature and headspace pressure every minute, range and over-pressure alerts by SMS and e-mail, welded heaters and clogged vents",
    file: "scenarios/tank.toml",
    text: include_str!("../tank.toml"),
},
Bundled {
    name: "tank-edge",
    summary: "the mixing tanks behind an IoT Edge gateway per plant: store and forward through uplink outages (two-hour time-to-live), the rules also run on site",
    file: "scenarios/tank-edge.toml",
    text: include_str!("../tank-edge.toml"),
},
Bundled {
    name: "thermostat",
    summary: "home thermostats: a room model and a heat pump per home, setpoints as desired properties and temperature queries as direct methods from a web portal",
    file: "scenarios/thermostat.toml",
    text: include_str!("../thermostat.toml"),
}];

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

/// Every key a file may set and its default, as a TOML document: `--set` may name a key the
/// file leaves out. Array entries are templates: one class entry per registered kind, with
/// that kind's parameters.
pub fn defaults_document(registry: &Registry) -> String {
    let mut file = SolutionFile::default();
    // The link's overrides have no default (the radio's figure is); the template lists them.
    let link = LinkSection {
        latency_ms_min: Some(0.0),
        latency_ms_median_extra: Some(0.0),
        latency_ms_p99_extra: Some(0.0),
        loss_ratio: Some(0.0),
        bitrate_bps: Some(0),
        ..LinkSection::default()
    };
    file.classes = registry
        .classes()
        .map(|k| ClassEntry {
            kind: k.name().to_string(),
            params: k.default_params.clone(),
            link: link.clone(),
            ..ClassEntry::default()
        })
        .collect();
    toml::to_string(&file).expect("the defaults serialise")
}

/// A loaded scenario: the file as checked, its text after the overrides (what reports and
/// errors quote), and the world it resolves to.
pub struct Loaded {
    pub file: SolutionFile,
    pub effective: Source,
    pub resolved: Resolved,
}

impl Loaded {
    /// How many devices the scenario runs.
    pub fn devices(&self) -> u64 {
        self.file.classes.iter().map(|c| u64::from(c.count)).sum()
    }
}

/// Loads a scenario from a source with overrides against the registry: parses, checks and
/// resolves it, every error located in the (overridden) file.
pub fn load(
    src: &Source,
    overrides: &[Override],
    registry: &Registry,
) -> Result<Loaded, LoadError> {
    let defaults = defaults_document(registry);
    let file: SolutionFile = load::parse_with_defaults(src, overrides, ALIASES, &defaults)?;
    let effective = Source {
        origin: src.origin.clone(),
        text: load::apply_overrides_with_defaults(src, overrides, ALIASES, &defaults)?,
    };
    let resolved = resolve(&file, registry).map_err(|fe| LoadError::Invalid {
        at: load::locate(&effective, &fe.field),
        field: fe.field,
        message: fe.message,
    })?;
    Ok(Loaded {
        file,
        effective,
        resolved,
    })
}

/// Why a scenario could not be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Build(#[from] crate::world::BuildError),
}

/// Loads and runs a scenario to its end without progress reports (for tests and tools).
pub fn run(
    src: &Source,
    overrides: &[Override],
    registry: &Registry,
) -> Result<crate::world::Outcome, RunError> {
    let loaded = load(src, overrides, registry)?;
    let r = loaded.resolved;
    Ok(crate::world::run(r.world, r.classes, r.apps, &mut |_| {})?.0)
}

/// Runs bundled scenario `name` with `key=value` overrides (for tests).
///
/// # Panics
/// If the scenario does not exist, an override is malformed, or the run cannot be built.
pub fn run_bundled(name: &str, sets: &[&str]) -> crate::world::Outcome {
    let sets: Vec<Override> = sets
        .iter()
        .map(|s| Override::parse(s).expect("key=value"))
        .collect();
    run(&source(name).expect("bundled"), &sets, &Registry::bundled())
        .unwrap_or_else(|e| panic!("{name} {sets:?}: {e}"))
}
