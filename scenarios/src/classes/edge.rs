//! `edge/1`: the box an IoT Edge gateway runs on (an industrial PC at a plant, a LoRaWAN
//! gateway in a barn), mains powered. Its devices are the gateways a class's `edge` table
//! deploys edgeHub on (reference §3); what edgeHub does is the world's
//! (`scenarios/src/world/edge.rs`, `models/edge`). Its own telemetry is a heartbeat: the
//! seconds since its runtime last started, so a restart shows in the store.

use crate::class::DeviceClass;
use crate::registry::ClassKind;
use firmware::DeviceLogic;
use iot_messages::telemetry::FIELDS_MAX;
use sim::SimTime;

/// Every gateway's last start, in arrays.
pub struct EdgeBoxes {
    started: Vec<SimTime>,
}

impl DeviceLogic for EdgeBoxes {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        out[0] = now
            .saturating_since(self.started[device as usize])
            .as_secs_f64();
        1
    }
}

impl DeviceClass for EdgeBoxes {
    fn len(&self) -> u32 {
        self.started.len() as u32
    }
    fn on_crash(&mut self, device: u32, now: SimTime) {
        self.started[device as usize] = now;
    }
}

#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {}

pub fn kind() -> ClassKind {
    ClassKind::new(
        "edge/1",
        "an IoT Edge gateway's box (mains powered): give its class an `edge` table to run edgeHub for the classes whose `gateway` names it; reports its uptime",
        |b| {
            let _: Params = b.params()?;
            Ok(Box::new(EdgeBoxes {
                started: vec![SimTime::ZERO; b.count as usize],
            }))
        },
    )
    .samples(&["uptime_s"])
    .model("scenarios/dtdl/edge.json", include_str!("../../dtdl/edge.json"))
    .default_params(&Params {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_counts_from_the_last_restart() {
        let mut e = EdgeBoxes {
            started: vec![SimTime::ZERO; 2],
        };
        let mut out = [0.0; FIELDS_MAX];
        e.sample(1, SimTime::from_secs(90), &mut out);
        assert_eq!(out[0], 90.0);
        e.on_crash(1, SimTime::from_secs(100));
        e.sample(1, SimTime::from_secs(130), &mut out);
        assert_eq!(out[0], 30.0);
    }
}
