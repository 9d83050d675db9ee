//! The `antenna` binary: configuration, logging, start, wait for a signal, stop.

use std::process::ExitCode;

use antenna::config::Config;
use antenna::reporting::Reporting;
use tokio::signal::unix::{signal, SignalKind};

/// mimalloc: per-thread free lists suit per-core acceptors that allocate and free request
/// buffers on the same thread.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Logs to stdout at `level`; ERROR events also go to Sentry once it is started.
fn init_logging(level: tracing::Level) {
    use tracing_subscriber::prelude::*;
    let stdout = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(false)
        .with_filter(tracing_subscriber::filter::LevelFilter::from_level(level));
    tracing_subscriber::registry()
        .with(stdout)
        .with(antenna::reporting::layer())
        .init();
}

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            init_logging(tracing::Level::INFO);
            tracing::error!("Unhandled startup exception: {error}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(config.logging_level);
    // Dropped last: queued events are flushed (two seconds at most) on the way out.
    let reporting = config
        .reporting()
        .map(|settings| Reporting::start(&settings, &config.basedir));
    let fail = |reporting: &Option<Reporting>| {
        if let Some(reporting) = reporting {
            reporting.flush();
        }
        ExitCode::FAILURE
    };
    for (name, value) in config.describe() {
        tracing::info!("{name}={value}");
    }
    tracing::info!(
        "memory bound for crash bytes: {} MiB (ANTENNA_MAX_INFLIGHT_BYTES + queues x max crash)",
        config.memory_bound() >> 20
    );

    // Signals are registered before anything starts, so an early SIGTERM is not lost.
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| {
            let terminate = runtime.block_on(async { signal(SignalKind::terminate()) })?;
            let interrupt = runtime.block_on(async { signal(SignalKind::interrupt()) })?;
            Ok((runtime, terminate, interrupt))
        });
    let (runtime, mut terminate, mut interrupt) = match signals {
        Ok(signals) => signals,
        Err(error) => {
            tracing::error!("Unhandled startup exception: installing signal handlers: {error}");
            return fail(&reporting);
        }
    };

    let running = match antenna::app::start(&config) {
        Ok(running) => running,
        Err(error) => {
            tracing::error!("Unhandled startup exception: {error}");
            return fail(&reporting);
        }
    };
    tracing::info!("listening on {}", running.local_addr);

    runtime.block_on(async {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
        }
    });
    running.shutdown();
    tracing::info!("stopped");
    ExitCode::SUCCESS
}
