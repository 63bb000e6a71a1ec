//! The messages between devices and the cloud: MQTT topics and payloads, SAS tokens, twin, method, C2D and DPS wire formats.
