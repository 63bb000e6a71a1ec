//! The registry: device classes and back-end apps by name, so a scenario file can name a
//! user's Rust code (`kind = "greenhouse/1"`) the way it names a bundled one. Code stays apart
//! from deployment: the registry holds what a class *is*, the file says how many, where, and
//! with which parameters (house style, "Code apart from deployment").
//!
//! ```
//! use firmware::DeviceLogic;
//! use iot_messages::telemetry::FIELDS_MAX;
//! use scenarios::class::DeviceClass;
//! use scenarios::registry::{ClassKind, Registry};
//! use sim::SimTime;
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! #[serde(deny_unknown_fields)]
//! struct Params {
//!     level: f64,
//! }
//!
//! struct Beacons {
//!     level: f64,
//!     count: u32,
//! }
//! impl DeviceLogic for Beacons {
//!     fn sample(&mut self, _d: u32, _now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
//!         out[0] = self.level;
//!         1
//!     }
//! }
//! impl DeviceClass for Beacons {
//!     fn len(&self) -> u32 {
//!         self.count
//!     }
//! }
//!
//! let mut registry = Registry::bundled();
//! registry.add_class(
//!     ClassKind::new("beacon/1", "a beacon that reports a constant level", |b| {
//!         let p: Params = b.params()?;
//!         Ok(Box::new(Beacons { level: p.level, count: b.count }))
//!     })
//!     .samples(&["level"])
//!     .default_params(&Params { level: 1.0 }),
//! );
//! assert!(registry.class("beacon/1").is_some());
//! assert!(registry.class("collar/1").is_some(), "the bundled classes are there too");
//! ```

use crate::app::App;
use crate::class::DeviceClass;
use crate::load::FieldError;
use hardware::radio::RadioProfile;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sim::{Epoch, Seed};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a class's builder is given: the scenario's seed and epoch, the class's entry in the
/// file (its name, device count, telemetry fields, radio) and its `params` table.
pub struct ClassBuild<'a> {
    pub seed: Seed,
    pub epoch: Epoch,
    /// The class's name in the file (`classes.<name>`).
    pub name: &'a str,
    pub count: u32,
    /// The telemetry fields the file declares, in order, without the timestamp: what
    /// `sample` must fill.
    pub telemetry: &'a [String],
    pub radio: &'a RadioProfile,
    pub(crate) params: &'a toml::Table,
}

impl ClassBuild<'_> {
    /// The class's `params` table as `P`; an error names the dotted field
    /// (`classes.<name>.params.<field>`), which the loader locates in the file.
    pub fn params<P: DeserializeOwned>(&self) -> Result<P, FieldError> {
        params_as(self.params, &format!("classes.{}.params", self.name))
    }

    /// The class's own random stream for device `device` and `purpose`, keyed by the class's
    /// name: adding a device or a class changes no other device's draws.
    pub fn stream(&self, device: u32, purpose: &str) -> sim::RngStream {
        self.seed
            .stream(sim::StreamKey::new(self.name, u64::from(device), purpose))
    }

    /// An error about the class's parameter `key`.
    pub fn error(&self, key: &str, message: impl Into<String>) -> FieldError {
        FieldError::new(format!("classes.{}.params.{key}", self.name), message)
    }
}

/// What an app's builder is given: the scenario's seed and epoch, the app's name in the file
/// and its `params` table.
pub struct AppBuild<'a> {
    pub seed: Seed,
    pub epoch: Epoch,
    /// The app's name in the file (`apps.<name>`).
    pub name: &'a str,
    pub(crate) params: &'a toml::Table,
}

impl AppBuild<'_> {
    /// The app's `params` table as `P`; an error names the dotted field
    /// (`apps.<name>.params.<field>`).
    pub fn params<P: DeserializeOwned>(&self) -> Result<P, FieldError> {
        params_as(self.params, &format!("apps.{}.params", self.name))
    }

    /// An error about the app's parameter `key`.
    pub fn error(&self, key: &str, message: impl Into<String>) -> FieldError {
        FieldError::new(format!("apps.{}.params.{key}", self.name), message)
    }

    /// The app's own random stream for `purpose`, keyed by its name.
    pub fn stream(&self, purpose: &str) -> sim::RngStream {
        self.seed.stream(sim::StreamKey::new(
            &format!("app/{}", self.name),
            0,
            purpose,
        ))
    }
}

fn params_as<P: DeserializeOwned>(params: &toml::Table, prefix: &str) -> Result<P, FieldError> {
    let value = toml::Value::Table(params.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            prefix.to_string()
        } else {
            format!("{prefix}.{path}")
        };
        FieldError::new(field, e.inner().to_string())
    })
}

type AppBuilder = dyn Fn(&AppBuild<'_>) -> Result<Box<dyn App>, FieldError> + Send + Sync;

/// A kind of back-end app: its registered name (`"portal/1"`), one line about it, its
/// parameters' defaults, and its builder.
#[derive(Clone)]
pub struct AppKind {
    pub(crate) name: String,
    pub(crate) summary: String,
    pub(crate) default_params: toml::Table,
    pub(crate) build: Arc<AppBuilder>,
}

impl AppKind {
    pub fn new(
        name: &str,
        summary: &str,
        build: impl Fn(&AppBuild<'_>) -> Result<Box<dyn App>, FieldError> + Send + Sync + 'static,
    ) -> AppKind {
        AppKind {
            name: name.to_string(),
            summary: summary.to_string(),
            default_params: toml::Table::new(),
            build: Arc::new(build),
        }
    }

    /// The parameters' defaults, listed for `--set` and in `fleetsim defaults`.
    ///
    /// # Panics
    /// If `params` does not serialise to a TOML table (a programming error in the app).
    pub fn default_params(mut self, params: &impl Serialize) -> AppKind {
        self.default_params =
            toml::Table::try_from(params).expect("an app's parameters serialise to a TOML table");
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn summary(&self) -> &str {
        &self.summary
    }
}

type ClassBuilder =
    dyn Fn(&ClassBuild<'_>) -> Result<Box<dyn DeviceClass>, FieldError> + Send + Sync;

/// A kind of device class: its registered name (`"collar/1"`), one line about it, the
/// telemetry fields its `sample` fills (if fixed), its parameters' defaults, and its builder.
#[derive(Clone)]
pub struct ClassKind {
    pub(crate) name: String,
    pub(crate) summary: String,
    pub(crate) samples: Option<Vec<String>>,
    pub(crate) faults: Vec<(String, String)>,
    /// The device model: (document name, DTDL v2 interface text).
    pub(crate) model: Option<(String, String)>,
    pub(crate) default_params: toml::Table,
    pub(crate) build: Arc<ClassBuilder>,
}

impl ClassKind {
    pub fn new(
        name: &str,
        summary: &str,
        build: impl Fn(&ClassBuild<'_>) -> Result<Box<dyn DeviceClass>, FieldError>
            + Send
            + Sync
            + 'static,
    ) -> ClassKind {
        ClassKind {
            name: name.to_string(),
            summary: summary.to_string(),
            samples: None,
            faults: Vec::new(),
            model: None,
            default_params: toml::Table::new(),
            build: Arc::new(build),
        }
    }

    /// The hardware faults the class models, by name with one line each: a file's
    /// `[[faults.hardware]]` may name only these, and the class's
    /// [`DeviceClass::on_fault`] is called when one begins and ends.
    pub fn faults(mut self, faults: &[(&str, &str)]) -> ClassKind {
        self.faults = faults
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_string()))
            .collect();
        self
    }

    /// The hardware faults the class models: (name, description).
    pub fn fault_list(&self) -> &[(String, String)] {
        &self.faults
    }

    /// The class's device model, a DTDL v2 interface ([`crate::dtdl`]): `document` names it
    /// in errors (its file name), `text` is the JSON. A scenario using the kind is refused
    /// at load if the model is not valid DTDL, if the class sends telemetry the model does not
    /// declare (unless its `unmodeled = "flag"`), or if the file's `[[commands]]` call a
    /// command or set a property the model does not have; devices announce the model's id
    /// when they connect (IoT Plug and Play, reference §6).
    ///
    /// ```
    /// # use scenarios::registry::ClassKind;
    /// # fn build(_: &scenarios::registry::ClassBuild<'_>) -> Result<Box<dyn scenarios::class::DeviceClass>, scenarios::FieldError> { unimplemented!() }
    /// let kind = ClassKind::new("probe/1", "a soil probe", build)
    ///     .samples(&["moisture"])
    ///     .model("probe.json", r#"{
    ///         "@context": "dtmi:dtdl:context;2", "@id": "dtmi:example:Probe;1", "@type": "Interface",
    ///         "contents": [
    ///             { "@type": "Telemetry", "name": "moisture", "schema": "double" },
    ///             { "@type": "Telemetry", "name": "ts", "schema": "double" } ] }"#);
    /// assert_eq!(kind.name(), "probe/1");
    /// ```
    pub fn model(mut self, document: &str, text: &str) -> ClassKind {
        self.model = Some((document.to_string(), text.to_string()));
        self
    }

    /// The device model's document name and DTDL text, if the kind has one.
    pub fn model_source(&self) -> Option<(&str, &str)> {
        self.model.as_ref().map(|(d, t)| (d.as_str(), t.as_str()))
    }

    /// The telemetry fields the class's `sample` fills, if fixed ([`ClassKind::samples`]).
    pub fn sample_list(&self) -> Option<&[String]> {
        self.samples.as_deref()
    }

    /// The telemetry fields the class's `sample` fills, in order: a file's declaration must
    /// list exactly these. A class that fills whatever the file declares leaves this unset.
    pub fn samples(mut self, fields: &[&str]) -> ClassKind {
        self.samples = Some(fields.iter().map(|f| f.to_string()).collect());
        self
    }

    /// The parameters' defaults, listed for `--set` and in the scenario-file reference.
    ///
    /// # Panics
    /// If `params` does not serialise to a TOML table (a programming error in the class).
    pub fn default_params(mut self, params: &impl Serialize) -> ClassKind {
        self.default_params =
            toml::Table::try_from(params).expect("a class's parameters serialise to a TOML table");
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn summary(&self) -> &str {
        &self.summary
    }
}

/// Device classes and back-end apps by name.
#[derive(Clone, Default)]
pub struct Registry {
    classes: BTreeMap<String, ClassKind>,
    apps: BTreeMap<String, AppKind>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The classes and apps fleetsim bundles.
    pub fn bundled() -> Registry {
        let mut r = Registry::new();
        crate::classes::register(&mut r);
        crate::apps::register(&mut r);
        r
    }

    /// Adds (or replaces) a class kind.
    pub fn add_class(&mut self, kind: ClassKind) -> &mut Registry {
        self.classes.insert(kind.name.clone(), kind);
        self
    }

    pub fn class(&self, name: &str) -> Option<&ClassKind> {
        self.classes.get(name)
    }

    /// Every class kind, by name.
    pub fn classes(&self) -> impl Iterator<Item = &ClassKind> {
        self.classes.values()
    }

    /// Adds (or replaces) an app kind.
    pub fn add_app(&mut self, kind: AppKind) -> &mut Registry {
        self.apps.insert(kind.name.clone(), kind);
        self
    }

    pub fn app(&self, name: &str) -> Option<&AppKind> {
        self.apps.get(name)
    }

    /// Every app kind, by name.
    pub fn apps(&self) -> impl Iterator<Item = &AppKind> {
        self.apps.values()
    }

    /// The registered app names, comma-separated (for error messages).
    pub(crate) fn app_names(&self) -> String {
        self.apps.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// The registered class names, comma-separated (for error messages).
    pub(crate) fn class_names(&self) -> String {
        self.classes.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}
