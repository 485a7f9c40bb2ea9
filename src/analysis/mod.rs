//! Pure computation on fetched data: no I/O, no clocks, easy to test on values.
//!
//! - [`slo`]: SLI per window, error budget, burn rates, alert tiers and the error-budget gate.
//! - [`stats`]: rank-sum test, location shift and its interval, proportions (R-exact).
//! - [`canary`]: each metric classified, the group score and the canary verdict.
//! - [`distribution`]: the bounded summary of each side kept with a canary verdict (charts).
//! - [`sequential`]: anytime-valid tests (e-processes) for canaries asked again and again.
//! - [`calibration`]: whole rollouts replayed through the gate and Argo's analysis rules on
//!   per-minute data, and the noise that data shows (`slogate calibrate`, the simulator).

pub mod calibration;
pub mod canary;
pub mod distribution;
pub mod sequential;
pub mod slo;
pub mod stats;
