//! The analytics back end: rules over telemetry, alerts, dashboard state and ground-truth scoring.
