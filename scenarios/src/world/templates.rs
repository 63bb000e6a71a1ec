//! Device templates as IoT Central keeps them (reference §6): the classes' device models,
//! assigned to each reading by the model id its device announced when it connected, which
//! IoT Hub stamps on a Plug and Play device's routed messages (`dt-dataschema`,
//! [`hub::EndpointMessage::model`]). A reading is *unassigned* when its device announced no
//! model, or one that is not among the templates; it is *unmodeled* when it carries a field
//! its template does not declare (a class whose file says `unmodeled = "flag"`).

use super::WorldConfig;
use crate::summary::ModelRow;
use hub::Hub;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    readings: u64,
    unassigned: u64,
    unmodeled: u64,
}

pub(crate) struct Templates {
    /// The templates' model ids (one per class with a model).
    ids: Vec<Arc<str>>,
    /// Per template, per class: how many of the class's telemetry fields (its timestamp
    /// included) the template does not declare.
    unmodeled: Vec<Vec<u8>>,
    /// Per hub, per hub model index from 1: once looked up, the template (`None`: the id is
    /// no template's).
    by_hub: Vec<Vec<Option<Option<u16>>>>,
    /// Per class: what its devices' readings were.
    counts: Vec<Counts>,
}

impl Templates {
    pub(crate) fn new(cfg: &WorldConfig) -> Templates {
        let models: Vec<_> = cfg
            .classes
            .iter()
            .filter_map(|c| c.model.as_ref())
            .collect();
        let unmodeled = models
            .iter()
            .map(|m| {
                cfg.classes
                    .iter()
                    .map(|c| {
                        let sent = c.firmware.schemas.get(c.firmware.schema);
                        let fields = sent.map_or(&[][..], |s| &s.fields[..]);
                        let missing = fields
                            .iter()
                            .filter(|f| m.interface.telemetry(f).is_none())
                            .count();
                        u8::try_from(missing).unwrap_or(u8::MAX)
                    })
                    .collect()
            })
            .collect();
        Templates {
            ids: models
                .iter()
                .map(|m| m.interface.id.as_str().into())
                .collect(),
            unmodeled,
            by_hub: vec![Vec::new(); cfg.hubs.len()],
            counts: vec![Counts::default(); cfg.classes.len()],
        }
    }

    /// A reading of class `class`'s device arrived from hub `h`, stamped with hub model index
    /// `model` (0: none).
    #[inline]
    pub(crate) fn on_reading(&mut self, hub: &Hub, h: usize, model: u16, class: usize) {
        let counts = &mut self.counts[class];
        counts.readings += 1;
        let template = match usize::from(model) {
            0 => None,
            m => {
                let known = &mut self.by_hub[h];
                if known.len() < m {
                    known.resize(m, None);
                }
                *known[m - 1].get_or_insert_with(|| {
                    hub.model_id(model)
                        .and_then(|id| self.ids.iter().position(|t| t == id))
                        .map(|t| t as u16)
                })
            }
        };
        match template {
            None => counts.unassigned += 1,
            Some(t) if self.unmodeled[usize::from(t)][class] > 0 => counts.unmodeled += 1,
            Some(_) => {}
        }
    }

    /// One row per class for the summary.
    pub(crate) fn rows(&self, cfg: &WorldConfig) -> Vec<ModelRow> {
        cfg.classes
            .iter()
            .zip(&self.counts)
            .map(|(c, n)| ModelRow {
                class: c.name.clone(),
                model_id: c.model.as_ref().map(|m| m.interface.id.clone()),
                readings: n.readings,
                unassigned: n.unassigned,
                unmodeled_readings: n.unmodeled,
                unmodeled_fields: c.model.as_ref().map_or(Vec::new(), |m| m.unmodeled.clone()),
            })
            .collect()
    }
}
