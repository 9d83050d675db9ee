//! Crash points for fault tests: with the `fault-injection` feature, [`point`] aborts the
//! process when `ANTENNA_FAULT_POINT` names it, or panics when `ANTENNA_FAULT_PANIC` does,
//! so a test can kill the collector between two steps of a durable write, or check what a
//! panic reports. Without the feature (every release build), `point` is empty and compiles
//! to nothing.

/// Aborts or panics here when this build has fault injection and the environment asks.
#[inline(always)]
pub fn point(name: &str) {
    #[cfg(feature = "fault-injection")]
    {
        let (abort_at, panic_at) = wanted();
        if abort_at.as_deref() == Some(name) {
            eprintln!("fault point {name}: aborting");
            std::process::abort();
        }
        if panic_at.as_deref() == Some(name) {
            panic!("fault point {name}: panicking");
        }
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = name;
}

/// `ANTENNA_FAULT_POINT` and `ANTENNA_FAULT_PANIC`, read once.
#[cfg(feature = "fault-injection")]
fn wanted() -> &'static (Option<String>, Option<String>) {
    static WANTED: std::sync::OnceLock<(Option<String>, Option<String>)> =
        std::sync::OnceLock::new();
    WANTED.get_or_init(|| {
        (
            std::env::var("ANTENNA_FAULT_POINT").ok(),
            std::env::var("ANTENNA_FAULT_PANIC").ok(),
        )
    })
}
