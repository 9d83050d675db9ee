//! The corpus: a directory of recorded crash requests, one pair of files each:
//! `NNNNNN.headers` (`Name: value` lines, as the client sent them, Content-Length left out)
//! and `NNNNNN.body` (the body bytes exactly as sent).
//!
//! Two ways to make one: [`synthesize`] from the minidumps and annotation sets, with a
//! production-like size mix, and [`from_fs`] from crashes an antenna fs backend stored.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use antenna::storage::fs::FsLayout;
use antenna_testkit::Multipart;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Header lines, without Content-Length / Transfer-Encoding.
    pub headers: Vec<(String, String)>,
    /// Body as sent.
    pub body: Vec<u8>,
}

/// Reads every recorded request of `dir`, in file-name order.
pub fn load(dir: &Path) -> io::Result<Vec<Recorded>> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "body"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|body_path| {
            let headers = fs::read_to_string(body_path.with_extension("headers"))?
                .lines()
                .filter_map(|line| line.split_once(':'))
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .collect();
            Ok(Recorded {
                headers,
                body: fs::read(&body_path)?,
            })
        })
        .collect()
}

fn save(dir: &Path, index: usize, recorded: &Recorded) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let headers: String = recorded
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect();
    fs::write(dir.join(format!("{index:06}.headers")), headers)?;
    fs::write(dir.join(format!("{index:06}.body")), &recorded.body)
}

/// A multipart body with a random boundary, as reporters make them.
fn multipart(rng: &mut impl Rng) -> Multipart {
    Multipart::with_boundary(&format!(
        "------------------------{:016x}",
        rng.random::<u64>()
    ))
}

/// The request that sends `multipart` with `user_agent`.
fn recorded(multipart: Multipart, user_agent: &str) -> Recorded {
    Recorded {
        headers: vec![
            ("Host".into(), "localhost".into()),
            ("User-Agent".into(), user_agent.into()),
            ("Content-Type".into(), multipart.content_type()),
        ],
        body: multipart.build(),
    }
}

/// Median dump size of production crashes (Antenna's deploy notes).
const MEDIAN_SIZE: f64 = 400.0 * 1024.0;
/// Spread of the log-normal size distribution: p90 ≈ 1.6 MB, p99 ≈ 5 MB.
const SIGMA: f64 = 1.1;
/// Largest dump made.
const MAX_SIZE: usize = 20 << 20;

/// A dump of `size` bytes that starts with a real minidump and continues with its bytes,
/// lightly varied so it compresses about as well as real dumps do.
fn dump_of_size(seed: &[u8], size: usize, rng: &mut impl Rng) -> Vec<u8> {
    let mut dump = Vec::with_capacity(size);
    dump.extend_from_slice(&seed[..seed.len().min(size)]);
    while dump.len() < size {
        let start = rng.random_range(0..seed.len());
        let take = (size - dump.len()).min(seed.len() - start).min(4096);
        let offset = dump.len();
        dump.extend_from_slice(&seed[start..start + take]);
        if let Some(byte) = dump.get_mut(offset) {
            *byte ^= rng.random::<u8>();
        }
    }
    dump
}

/// Draws a dump size: log-normal around the median (Box–Muller for the normal deviate),
/// and 1% from the far tail, 5–20 MB, which a log-normal this narrow almost never reaches.
fn draw_size(rng: &mut impl Rng) -> usize {
    if rng.random_range(0..100) == 0 {
        return rng.random_range(5 << 20..=MAX_SIZE);
    }
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    ((MEDIAN_SIZE * (SIGMA * normal).exp()) as usize).clamp(4096, MAX_SIZE)
}

/// Writes `count` synthetic requests into `out`, from the minidumps and annotation sets of
/// `corpus_dir`. Deterministic for a `seed`. With `fixed_size`, every dump has that size.
pub fn synthesize(
    corpus_dir: &Path,
    out: &Path,
    count: usize,
    seed: u64,
    fixed_size: Option<usize>,
) -> io::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seeds = Vec::new();
    for entry in fs::read_dir(corpus_dir.join("minidumps"))?.flatten() {
        let bytes = fs::read(entry.path())?;
        if bytes.starts_with(b"MDMP") && bytes.len() > 4096 {
            seeds.push(bytes);
        }
    }
    let mut annotation_sets = Vec::new();
    for entry in fs::read_dir(corpus_dir.join("annotations"))?.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let value: Value = serde_json::from_slice(&fs::read(&path)?)
                .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
            if value.is_object() {
                annotation_sets.push(value);
            }
        }
    }
    if seeds.is_empty() || annotation_sets.is_empty() {
        return Err(io::Error::other("no minidumps or annotation sets found"));
    }
    let user_agents = [
        "Crashpad/0.8.0",
        "Breakpad/1.0 (Linux)",
        "Mozilla/5.0 CrashReporter",
    ];
    for index in 0..count {
        let annotations = &annotation_sets[rng.random_range(0..annotation_sets.len())];
        let mut body = multipart(&mut rng).fields(annotations);
        let seed_dump = &seeds[rng.random_range(0..seeds.len())];
        let size = fixed_size.unwrap_or_else(|| draw_size(&mut rng));
        body = body.dump(
            "upload_file_minidump",
            &dump_of_size(seed_dump, size, &mut rng),
        );
        if rng.random_range(0..10) == 0 {
            // Some reports carry a second, browser-process dump.
            let other = &seeds[rng.random_range(0..seeds.len())];
            body = body.dump("upload_file_minidump_browser", other);
        }
        let user_agent = user_agents[rng.random_range(0..user_agents.len())];
        save(out, index, &recorded(body, user_agent))?;
    }
    Ok(())
}

/// Turns crashes stored by an fs backend under `root` back into requests in `out`: the raw
/// crash's annotations as form fields (collector fields left out), its dumps as files.
pub fn from_fs(root: &Path, out: &Path) -> io::Result<usize> {
    let layout = FsLayout::new(root);
    let crash_ids = layout.crash_ids()?;
    let mut rng = StdRng::seed_from_u64(0);
    for (index, crash_id) in crash_ids.iter().enumerate() {
        let path = layout.raw_crash(crash_id);
        let raw: Value = serde_json::from_slice(&fs::read(&path)?)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        let Value::Object(mut raw) = raw else {
            continue;
        };
        let user_agent = raw["metadata"]["user_agent"]
            .as_str()
            .unwrap_or("None")
            .to_owned();
        for collector_field in ["metadata", "uuid", "submitted_timestamp", "version"] {
            raw.remove(collector_field);
        }
        let mut body = multipart(&mut rng).fields(&Value::Object(raw));
        let names: Vec<String> = fs::read(layout.dump_names(crash_id))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        for name in names {
            if let Ok(bytes) = fs::read(layout.dump(&name, crash_id)) {
                body = body.dump(&name, &bytes);
            }
        }
        save(out, index, &recorded(body, &user_agent))?;
    }
    Ok(crash_ids.len())
}
