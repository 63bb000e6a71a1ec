//! The simulated Azure IoT Hub: registry, authentication, tiers, quotas, throttles, routing, C2D, methods, twins.
