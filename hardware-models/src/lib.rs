//! Hardware models: sensors, GNSS, actuators, radios, batteries and the physical world they measure.
