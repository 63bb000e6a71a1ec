//! The simulated Device Provisioning Service: enrollments, attestation, allocation policies, rate limits.
