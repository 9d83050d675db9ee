//! The report of one run: what is measured, as JSON or as text.

use std::collections::HashMap;

use serde::Serialize;

/// The report of one run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub label: String,
    pub url: String,
    pub mode: String,
    pub connections: usize,
    pub gzip: bool,
    pub chunked: bool,
    pub requests: u64,
    pub errors: u64,
    pub elapsed_s: f64,
    pub crashes_per_s: f64,
    pub crashes_per_min: f64,
    /// Answers that were 200 (accepted), per second: excludes 503s of a shedding server.
    pub accepted_per_s: f64,
    pub mb_per_s: f64,
    pub statuses: HashMap<u16, u64>,
    pub latency_ms: Latency,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_ms_per_crash: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_ctx_switches_per_crash: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_peak_rss_mb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ids_missing_in_storage: Option<usize>,
    /// Latency at each of `plot::quantiles()`, for the picture.
    #[serde(skip)]
    pub percentiles_ms: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

pub fn ms(histogram: &hdrhistogram::Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

pub fn print_report(report: &Report) {
    let mut statuses: Vec<_> = report.statuses.iter().collect();
    statuses.sort();
    println!("== {} ({})", report.label, report.url);
    println!(
        "   {} · {} connections · gzip {} · chunked {}",
        report.mode, report.connections, report.gzip, report.chunked
    );
    println!(
        "   {} requests in {:.2} s: {:.0} crashes/s ({:.0}/min, {:.0}/s answered 200), {:.1} MB/s; errors {}; statuses {:?}",
        report.requests,
        report.elapsed_s,
        report.crashes_per_s,
        report.crashes_per_min,
        report.accepted_per_s,
        report.mb_per_s,
        report.errors,
        statuses
    );
    let l = &report.latency_ms;
    println!(
        "   latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        l.p50, l.p90, l.p99, l.p999, l.max
    );
    if let Some(cpu) = report.server_cpu_ms_per_crash {
        println!("   server CPU (user+system): {cpu:.3} ms per crash");
    }
    if let Some(switches) = report.server_ctx_switches_per_crash {
        println!("   server context switches: {switches:.1} per crash");
    }
    if let Some(rss) = report.server_peak_rss_mb {
        println!("   server peak RSS: {rss:.1} MB");
    }
    if let Some(missing) = report.ids_missing_in_storage {
        println!("   crash ids missing in storage: {missing}");
    }
}
