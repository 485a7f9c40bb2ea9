//! Pure computation on fetched data: no I/O, no clocks, easy to test on values.
//!
//! - [`slo`]: SLI per window, error budget, burn rates, alert tiers and the error-budget gate.

pub mod slo;
