//! The herd: cow collars through DPS and IoT Hub to a store that flags fever and stuck cows,
//! as a [`WorldConfig`] and its one device class ([`CollarClass`]).

use crate::class::DeviceClass;
pub use crate::classes::collar::collar_schemas;
use crate::classes::collar::CollarClass;
pub use crate::world::Outage;
use crate::world::{
    self, build_err, BackendConfig, BuildError, ClassConfig, CrashFault, IdPattern, InvariantSpec,
    NetworkConfig, Outcome, Progress, WorldConfig,
};
use analytics::AnalyticsConfig;
use dps::DpsConfig;
use firmware::FirmwareConfig;
use hardware::collar::CollarConfig;
use hardware::radio::RadioProfile;
use hardware::world::geometry::{LocalFrame, Polygon};
use hub::HubConfig;
use sim::net::LinkProfile;
use sim::{Epoch, Ratio, Seed, SimDuration, SimTime};
use store::{Schema, StoreConfig};

/// Everything the herd needs, already validated and resolved from the scenario file.
#[derive(Clone)]
pub struct HerdConfig {
    pub seed: u64,
    pub epoch: Epoch,
    pub duration: SimDuration,
    pub cows: u32,
    /// Devices power on uniformly over this window from time zero.
    pub boot_window: SimDuration,
    /// The share of collars provisioned before the run.
    pub provisioned_ratio: Ratio,
    pub collar: CollarConfig,
    pub pasture: Polygon,
    pub frame: LocalFrame,
    pub firmware: FirmwareConfig,
    pub hubs: Vec<HubConfig>,
    pub dps: DpsConfig,
    pub group_key: Vec<u8>,
    /// Device ↔ cloud link (radio and backhaul together).
    pub link: LinkProfile,
    /// The collars' modem: every packet a collar sends (retransmissions too) is debited from
    /// its battery as the radio's energy for that many bytes, session cost included.
    pub radio: RadioProfile,
    pub devices_per_tower: u32,
    pub outages: Vec<Outage>,
    /// Share of devices that crash (and reboot after `crash_downtime`) at `crash_at`.
    pub crash: Option<(Ratio, SimTime, SimDuration)>,
    pub tcp_rto: SimDuration,
    pub tcp_max_retries: u8,
    pub store: StoreConfig,
    pub analytics: AnalyticsConfig,
    /// How often the back end reads the hub's built-in endpoint.
    pub backend_poll: SimDuration,
    /// Detection grace after an episode ends, for scoring.
    pub score_grace: SimDuration,
    pub thresholds: Thresholds,
    /// Metrics sampling interval for the report's time series.
    pub sample_interval: SimDuration,
}

/// Invariant thresholds from the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    pub fever_recall_min: f64,
    /// Fever episodes that start less than this before the run ends are too young to be
    /// judged (the fever is still ramping up): the recall invariant leaves them out.
    pub fever_min_age: SimDuration,
    /// The analytics rule scored against fever episodes.
    pub fever_rule: String,
    /// The analytics rule scored against stuck episodes.
    pub stuck_rule: String,
}

/// The herd as a world configuration and its collar class.
pub fn world(cfg: &HerdConfig) -> Result<(WorldConfig, Vec<Box<dyn DeviceClass>>), BuildError> {
    let collars = CollarClass::new(
        Seed(cfg.seed),
        cfg.epoch,
        cfg.cows,
        cfg.collar.clone(),
        cfg.pasture.clone(),
        cfg.frame,
        cfg.radio.clone(),
    )
    .map_err(|e| build_err("collar", e))?;
    let th = &cfg.thresholds;
    let world = WorldConfig {
        seed: cfg.seed,
        epoch: cfg.epoch,
        duration: cfg.duration,
        classes: vec![ClassConfig {
            name: "herd".into(),
            count: cfg.cows,
            ids: IdPattern::parse("cow-{index:07}").expect("a valid pattern"),
            firmware: cfg.firmware.clone(),
            boot_window: cfg.boot_window,
            provisioned_ratio: cfg.provisioned_ratio,
            group_key: cfg.group_key.clone(),
            stream: "herd".into(),
        }],
        hubs: cfg.hubs.clone(),
        dps: cfg.dps.clone(),
        network: NetworkConfig {
            link: cfg.link.clone(),
            devices_per_tower: cfg.devices_per_tower,
            outages: cfg.outages.clone(),
            tcp_rto: cfg.tcp_rto,
            tcp_max_retries: cfg.tcp_max_retries,
        },
        crash: cfg.crash.map(|(ratio, at, downtime)| CrashFault {
            ratio,
            at,
            downtime,
        }),
        backend: BackendConfig {
            class: 0,
            schema: Schema::collar(),
            timestamp_field: 3,
            store: cfg.store.clone(),
            analytics: cfg.analytics.clone(),
            poll: cfg.backend_poll,
        },
        score_grace: cfg.score_grace,
        invariants: vec![
            InvariantSpec::Recall {
                rule: th.fever_rule.clone(),
                min: th.fever_recall_min,
                min_age: th.fever_min_age,
            },
            InvariantSpec::NoAlertWithoutEpisode {
                rule: th.fever_rule.clone(),
            },
            InvariantSpec::FlaggedBeforeEnd {
                rule: th.stuck_rule.clone(),
            },
        ],
        sample_interval: cfg.sample_interval,
    };
    Ok((world, vec![Box::new(collars)]))
}

/// Builds and runs a herd to its end, then checks the invariants and scores the analytics.
pub fn run(
    cfg: HerdConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Outcome, String), BuildError> {
    let (world, classes) = world(&cfg)?;
    world::run(world, classes, progress)
}
