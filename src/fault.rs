//! Crash points for fault tests: with the `fault-injection` feature, [`point`] aborts the
//! process when `ANTENNA_FAULT_POINT` names it, so a test can kill the collector between
//! two steps of a durable write and check what survives. Without the feature (every
//! release build), `point` is empty and compiles to nothing.

/// Aborts here when this build has fault injection and `ANTENNA_FAULT_POINT` is `name`.
#[inline(always)]
pub fn point(name: &str) {
    #[cfg(feature = "fault-injection")]
    if std::env::var("ANTENNA_FAULT_POINT").is_ok_and(|wanted| wanted == name) {
        eprintln!("fault point {name}: aborting");
        std::process::abort();
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = name;
}
