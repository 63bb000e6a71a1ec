//! Each class's device model (its kind's DTDL interface, [`crate::dtdl`]) checked against
//! what the file makes the class do: the telemetry it sends, the commands the file's
//! `[[commands]]` call and the desired properties they set (reference §6: telemetry a template
//! does not declare is "unmodeled"; a template's commands and writable properties are what
//! the cloud may call and set).

use super::{ClassEntry, SolutionFile};
use crate::dtdl::Interface;
use crate::load::FieldError;
use crate::registry::Registry;
use crate::world::DeviceModel;
use std::sync::Arc;

/// The device model of each class (`None` for a kind without one), in file order.
pub(super) fn class_models(
    file: &SolutionFile,
    registry: &Registry,
    fields: &[Vec<String>],
) -> Result<Vec<Option<DeviceModel>>, FieldError> {
    let mut out = Vec::with_capacity(file.classes.len());
    for (c, class) in file.classes.iter().enumerate() {
        let kind = registry.class(&class.kind).expect("checked");
        let Some((document, text)) = &kind.model else {
            out.push(None);
            continue;
        };
        let interface = Interface::parse(document, text).map_err(|e| {
            FieldError::new(
                format!("classes.{}.kind", class.name),
                format!(
                    "the device model of kind {:?} is not valid DTDL v2: {e}",
                    class.kind
                ),
            )
        })?;
        let unmodeled = check_telemetry(class, &fields[c], &interface)?;
        out.push(Some(DeviceModel {
            interface: Arc::new(interface),
            unmodeled,
        }));
    }
    check_commands(file, &out)?;
    Ok(out)
}

/// The class's telemetry (its fields, then its timestamp) against the model: a field the
/// model declares must be a number with a fraction, as fleetsim sends it; one it does not
/// declare refuses the file, or, with `unmodeled = "flag"`, is returned (by name).
fn check_telemetry(
    class: &ClassEntry,
    fields: &[String],
    model: &Interface,
) -> Result<Vec<String>, FieldError> {
    let declared_in_file = !class.telemetry.fields.is_empty();
    let mut unmodeled = Vec::new();
    let names = fields
        .iter()
        .enumerate()
        .map(|(j, n)| (Some(j), n))
        .chain([(None, &class.telemetry.timestamp)]);
    for (j, name) in names {
        let at = match j {
            Some(j) if declared_in_file => {
                format!("classes.{}.telemetry.fields[{j}].name", class.name)
            }
            Some(_) => format!("classes.{}.kind", class.name),
            None => format!("classes.{}.telemetry.timestamp", class.name),
        };
        match model.telemetry(name) {
            Some(t) if t.schema.is_fractional_number() => {}
            Some(t) => {
                return Err(FieldError::new(
                    at,
                    format!(
                        "{name:?}: device model {} declares it as {}; fleetsim sends telemetry as JSON numbers with a fraction (1.0), so its schema must be double or float",
                        model.id, t.schema
                    ),
                ))
            }
            None if class.unmodeled == "flag" => unmodeled.push(name.clone()),
            None => {
                return Err(FieldError::new(
                    at,
                    format!(
                        "{name:?} is not telemetry of device model {} (kind {:?}), which declares {}; set classes.{}.unmodeled = \"flag\" to send it anyway and have the back end count it as unmodeled",
                        model.id,
                        class.kind,
                        model.telemetry_names(),
                        class.name
                    ),
                ))
            }
        }
    }
    Ok(unmodeled)
}

/// The file's `[[commands]]` against the models of the classes they target: a method must
/// be a command of the model, a desired patch may set only its writable properties.
fn check_commands(file: &SolutionFile, models: &[Option<DeviceModel>]) -> Result<(), FieldError> {
    for (i, e) in file.commands.iter().enumerate() {
        let c = file
            .classes
            .iter()
            .position(|k| k.name == e.class)
            .expect("checked");
        let Some(model) = &models[c] else {
            continue;
        };
        let m = &model.interface;
        match e.kind.as_str() {
            "method" if m.command(&e.name).is_some() => {}
            "method" => {
                let known: Vec<&str> = m.commands.iter().map(|c| c.name.as_str()).collect();
                return Err(FieldError::new(
                    format!("commands[{i}].name"),
                    format!(
                        "{:?} is not a command of device model {} (class {:?}), which has {}",
                        e.name,
                        m.id,
                        e.class,
                        list_or_none(&known)
                    ),
                ));
            }
            "desired" => {
                let writable: Vec<&str> = m
                    .properties
                    .iter()
                    .filter(|p| p.writable)
                    .map(|p| p.name.as_str())
                    .collect();
                if let Some(key) = e.payload.keys().find(|k| !writable.contains(&k.as_str())) {
                    return Err(FieldError::new(
                        format!("commands[{i}].payload"),
                        format!(
                            "{key:?} is not a writable property of device model {} (class {:?}), whose writable properties are {}",
                            m.id,
                            e.class,
                            list_or_none(&writable)
                        ),
                    ));
                }
            }
            // A DTDL model does not describe cloud-to-device messages.
            "c2d" => {}
            other => unreachable!("command kind {other:?} passed the file's checks"),
        }
    }
    Ok(())
}

/// `a, b, c`, or `none`.
fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
