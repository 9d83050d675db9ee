//! `antenna-loadtest`: the load harness of record for antenna.
//!
//! ```text
//! antenna-loadtest synth   --out DIR [--count 200] [--seed 1] [--size BYTES] [--corpus testdata]
//! antenna-loadtest from-fs --root CRASHDATA --out DIR
//! antenna-loadtest sink    [--listen 127.0.0.1:8100] [--threads 2]
//! antenna-loadtest s3-server --dir DIR [--listen 127.0.0.1:9000] [--bucket crashes] [--threads 2]
//! antenna-loadtest run     --url http://127.0.0.1:8000/submit --corpus DIR
//!                          [--connections 32] [--rate PER_SECOND] [--count 10000] [--duration 60]
//!                          [--gzip] [--chunked] [--sink-baseline] [--server-pid PID]
//!                          [--check-fs ROOT] [--json] [--quiet] [--allow-remote]
//!                          [--plot FILE.svg]
//! ```
//!
//! `run` is bounded by `--count` and `--duration` (whichever ends first) and only targets
//! loopback unless `--allow-remote` is given. `--sink-baseline` first runs the same load
//! against a null sink it starts itself (same machine, same run) and reports both. `--plot`
//! writes the latency percentiles of every run in the report as an SVG picture. `s3-server`
//! serves a bucket from a directory (s3s-fs) for the S3 scenario, with the credentials in
//! `s3_server.rs`.

mod args;
mod corpus;
mod plot;
mod procstat;
mod report;
mod run;
mod s3_server;
mod sink;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use args::{get, parse_args, parse_url, required, Args};
use procstat::{context_switches, cpu_seconds, rss_mb};
use report::{ms, print_report, Latency, Report};

/// Runs the load once against `url`, watching `server_pid` if given.
fn measure(
    label: &str,
    url: &str,
    plan: &run::Plan,
    requests: Arc<Vec<run::Prepared>>,
    server_pid: Option<u32>,
) -> Result<(Report, Vec<String>), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let cpu_before = server_pid.and_then(cpu_seconds);
    let switches_before = server_pid.and_then(context_switches);
    let sampler_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = server_pid.map(|pid| {
        let stop = Arc::clone(&sampler_stop);
        std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mb(pid).unwrap_or(0.0));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    });
    let outcome = runtime.block_on(run::run(plan, requests));
    sampler_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_rss = sampler.and_then(|s| s.join().ok());
    let cpu_ms_per_crash = match (cpu_before, server_pid.and_then(cpu_seconds)) {
        (Some(before), Some(after)) if outcome.answered > 0 => {
            Some((after - before) * 1000.0 / outcome.answered as f64)
        }
        _ => None,
    };
    let switches_per_crash = match (switches_before, server_pid.and_then(context_switches)) {
        (Some(before), Some(after)) if outcome.answered > 0 => {
            Some(after.saturating_sub(before) as f64 / outcome.answered as f64)
        }
        _ => None,
    };
    let elapsed = outcome.elapsed.as_secs_f64();
    let histogram = outcome.latency.as_ref().ok_or("no latency histogram")?;
    let report = Report {
        label: label.to_owned(),
        url: url.to_owned(),
        mode: match plan.rate {
            Some(rate) => format!("open loop, {rate}/s"),
            None => "closed loop".to_owned(),
        },
        connections: plan.connections,
        gzip: plan.gzip,
        chunked: plan.chunked,
        requests: outcome.answered,
        errors: outcome.errors,
        elapsed_s: elapsed,
        crashes_per_s: outcome.answered as f64 / elapsed,
        crashes_per_min: outcome.answered as f64 / elapsed * 60.0,
        accepted_per_s: outcome.statuses.get(&200).copied().unwrap_or(0) as f64 / elapsed,
        mb_per_s: outcome.bytes_sent as f64 / elapsed / 1e6,
        statuses: outcome.statuses.into_iter().collect(),
        latency_ms: Latency {
            p50: ms(histogram, 0.5),
            p90: ms(histogram, 0.9),
            p99: ms(histogram, 0.99),
            p999: ms(histogram, 0.999),
            max: histogram.max() as f64 / 1000.0,
        },
        server_cpu_ms_per_crash: cpu_ms_per_crash,
        server_ctx_switches_per_crash: switches_per_crash,
        server_peak_rss_mb: peak_rss,
        ids_missing_in_storage: None,
        percentiles_ms: plot::quantiles()
            .map(|(_, quantile)| ms(histogram, quantile))
            .collect(),
    };
    Ok((report, outcome.crash_ids))
}

/// Starts `antenna-loadtest sink` as a child process; returns it with its address.
fn start_sink(threads: usize) -> Result<(std::process::Child, SocketAddr), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args([
            "sink",
            "--listen",
            "127.0.0.1:0",
            "--threads",
            &threads.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("sink has no stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("sink said {line:?}"))?;
    Ok((child, addr))
}

fn command_run(args: &Args) -> Result<(), String> {
    let url = required(args, "url")?;
    let allow_remote = args.contains_key("allow-remote");
    let (addr, path) = parse_url(url, allow_remote)?;
    let corpus = corpus::load(Path::new(required(args, "corpus")?)).map_err(|e| e.to_string())?;
    if corpus.is_empty() {
        return Err("the corpus is empty".into());
    }
    let duration: f64 = get(args, "duration", 60.0)?;
    let mut plan = run::Plan {
        addr,
        path,
        connections: get(args, "connections", 32)?,
        rate: args
            .get("rate")
            .map(|r| r.parse())
            .transpose()
            .map_err(|_| "--rate")?,
        count: get(args, "count", 10_000)?,
        duration: Duration::from_secs_f64(duration.clamp(0.1, 3600.0)),
        gzip: args.contains_key("gzip"),
        chunked: args.contains_key("chunked"),
        progress: !args.contains_key("quiet"),
    };
    let requests = Arc::new(run::prepare(&corpus, &plan));
    let mut reports = Vec::new();
    if args.contains_key("sink-baseline") {
        let (mut sink, sink_addr) = start_sink(get(args, "sink-threads", 2)?)?;
        let sink_plan = run::Plan {
            addr: sink_addr,
            ..plan.clone()
        };
        let sink_url = format!("http://{sink_addr}{}", plan.path);
        let measured = measure(
            "null sink",
            &sink_url,
            &sink_plan,
            Arc::clone(&requests),
            Some(sink.id()),
        );
        let _ = sink.kill();
        let _ = sink.wait();
        reports.push(measured?.0);
    }
    let server_pid = args
        .get("server-pid")
        .map(|p| p.parse())
        .transpose()
        .map_err(|_| "--server-pid")?;
    plan.addr = addr;
    let (mut report, ids) = measure("antenna", url, &plan, requests, server_pid)?;
    if let Some(root) = args.get("check-fs") {
        let layout = antenna::storage::fs::FsLayout::new(root);
        let missing = ids
            .iter()
            .filter(|id| id.len() == 36)
            .filter(|id| !layout.raw_crash(id).exists())
            .count();
        report.ids_missing_in_storage = Some(missing);
    }
    reports.push(report);
    if let Some(path) = args.get("plot") {
        let title = format!(
            "{} · {} connections · {}",
            plan.path,
            plan.connections,
            reports[reports.len() - 1].mode
        );
        std::fs::write(path, plot::svg(&title, &reports)).map_err(|e| format!("{path}: {e}"))?;
    }
    if args.contains_key("json") {
        let json = serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?;
        println!("{json}");
    } else {
        for report in &reports {
            print_report(report);
        }
        if let [sink, ours] = &reports[..] {
            println!(
                "== antenna / null sink: {:.1}% of the sink's crashes/s",
                ours.crashes_per_s / sink.crashes_per_s * 100.0
            );
        }
    }
    match reports.last().and_then(|r| r.ids_missing_in_storage) {
        Some(missing) if missing > 0 => {
            Err(format!("{missing} answered crash ids are not in storage"))
        }
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!(
            "usage: antenna-loadtest synth|from-fs|sink|run [options] (see the source header)"
        );
        return ExitCode::FAILURE;
    };
    let result = parse_args(rest).and_then(|args| match command.as_str() {
        "synth" => {
            let corpus_dir = args
                .get("corpus")
                .map_or_else(antenna_testkit::testdata_dir, PathBuf::from);
            let size = args
                .get("size")
                .map(|s| s.parse())
                .transpose()
                .map_err(|_| "--size")?;
            corpus::synthesize(
                &corpus_dir,
                Path::new(required(&args, "out")?),
                get(&args, "count", 200)?,
                get(&args, "seed", 1)?,
                size,
            )
            .map_err(|e| e.to_string())
        }
        "from-fs" => corpus::from_fs(
            Path::new(required(&args, "root")?),
            Path::new(required(&args, "out")?),
        )
        .map(|n| eprintln!("{n} crashes turned into requests"))
        .map_err(|e| e.to_string()),
        "sink" => {
            let listen = get(&args, "listen", SocketAddr::from(([127, 0, 0, 1], 8100)))?;
            sink::run(listen, get(&args, "threads", 2)?).map_err(|e| e.to_string())
        }
        "s3-server" => {
            let listen = get(&args, "listen", SocketAddr::from(([127, 0, 0, 1], 9000)))?;
            let bucket = args.get("bucket").map_or("crashes", String::as_str);
            s3_server::run(
                listen,
                Path::new(required(&args, "dir")?),
                bucket,
                get(&args, "threads", 2)?,
            )
            .map_err(|e| e.to_string())
        }
        "run" => command_run(&args),
        other => Err(format!("unknown command {other:?}")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("antenna-loadtest: {error}");
            ExitCode::FAILURE
        }
    }
}
