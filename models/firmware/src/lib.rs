//! Device firmware as a sans-IO state machine: provisioning, connection, telemetry, twin, methods, C2D, reboot.
