//! From a body's content to annotations and dumps (SPEC §2 "Parts"; Antenna's
//! `extract_payload`, edge case by edge case), and the forms real reporters add: a bare
//! minidump with annotations in the query string, Electron's form nested in a dump part,
//! and dumps sent compressed.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use serde_json::{Map, Value};

use super::reject::Reject;
use crate::decompress::{self, Codec, DecompressError};
use crate::multipart::{self, Limits, Part};

/// Dump names that would collide with the storage's own objects.
const RESERVED_DUMP_NAMES: &[&str] = &["dump_names", "processed_crash", "raw_crash"];
/// Longest stored dump name.
const MAX_DUMP_NAME_LEN: usize = 30;
/// Antenna drops (with a note) a text annotation larger than this.
const MAX_ANNOTATION_LEN: usize = 20 * 1024 * 1024;
/// Note added when a report mixes the two annotation styles.
pub const BOTH_STYLES_NOTE: &str =
    "includes annotations in both json-encoded extra and formdata parts";
/// The dump a bare minidump body is.
const RAW_DUMP_NAME: &str = "upload_file_minidump";

/// How the annotations arrived (`metadata.payload`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Payload {
    /// Form fields only.
    #[default]
    Multipart,
    /// A JSON annotations part was seen.
    Json,
    /// A bare minidump body, annotations from the query string.
    Raw,
}

impl Payload {
    /// The `metadata.payload` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Payload::Multipart => "multipart",
            Payload::Json => "json",
            Payload::Raw => "raw",
        }
    }
}

/// What a body holds.
#[derive(Debug, Default, PartialEq)]
pub struct Extracted {
    /// Annotation name → value (strings from form fields; any JSON type from `extra`).
    pub annotations: Map<String, Value>,
    /// Sanitised dump name → bytes; for duplicates the last wins.
    pub dumps: BTreeMap<String, Bytes>,
    /// Collector notes, in the order things happened.
    pub notes: Vec<String>,
    /// How the annotations arrived.
    pub payload: Payload,
    /// Dumps whose own Content-Type names a compression format (Firefox's
    /// `memory-report.json.gz` is `application/x-gzip`): files meant to be compressed, which
    /// [`inflate_dumps`] stores as sent.
    pub compressed_files: BTreeSet<String>,
}

/// Part media types that declare the bytes a compressed file.
const COMPRESSED_FILE_TYPES: &[&str] = &[
    "application/gzip",
    "application/x-gzip",
    "application/zstd",
    "application/x-xz",
    "application/x-bzip2",
    "application/x-bzip",
];

/// Sorts parts into annotations and dumps. A dump part that holds a whole multipart form
/// (old Electron reporters) is replaced by the parts it holds; parts of the outer form win
/// over inner ones of the same name.
pub fn extract(parts: Vec<Part>) -> Result<Extracted, Reject> {
    let mut outer = Sorter::default();
    let mut nested = Vec::new();
    for part in parts {
        outer.sort(part, Some(&mut nested))?;
    }
    for (dump_name, parts) in nested {
        let mut inner = Sorter::default();
        for part in parts {
            inner.sort(part, None)?;
        }
        outer.adopt(inner);
        outer
            .out
            .notes
            .push(format!("{dump_name} held a nested multipart form"));
    }
    let Sorter {
        mut out,
        has_form_fields,
    } = outer;
    if out.payload == Payload::Json && has_form_fields {
        out.notes.push(BOTH_STYLES_NOTE.to_owned());
    }
    if out.annotations.is_empty() {
        return Err(Reject::NoAnnotations);
    }
    Ok(out)
}

/// A bare minidump body: the dump is `upload_file_minidump`, the annotations are the query
/// string's parameters (percent-decoded UTF-8; the last of repeated names wins).
pub fn raw_minidump(dump: Bytes, query: Option<&str>) -> Result<Extracted, Reject> {
    let mut out = Extracted {
        payload: Payload::Raw,
        ..Extracted::default()
    };
    for pair in query.unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (percent_decode(name), percent_decode(value)) {
            (Some(decoded), _) if decoded.is_empty() => {}
            (Some(decoded), Some(value)) => {
                out.annotations.insert(decoded, Value::String(value));
            }
            // Named as sent (still percent-encoded): the note stays plain text.
            _ => out.notes.push(format!(
                "query parameter {name} is not valid UTF-8 text; dropped"
            )),
        }
    }
    if out.annotations.is_empty() {
        return Err(Reject::NoAnnotations);
    }
    out.dumps.insert(RAW_DUMP_NAME.to_owned(), dump);
    Ok(out)
}

/// Decodes `%XX` escapes and `+` (a space in query strings); `None` if the result is not
/// UTF-8. A `%` not followed by two hex digits is kept as it is.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[at] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(at + 1).and_then(|&b| hex(b)),
                bytes.get(at + 2).and_then(|&b| hex(b)),
            ) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    at += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        at += 1;
    }
    String::from_utf8(out).ok()
}

/// Replaces every compressed dump (found by its magic bytes) with its decompressed bytes,
/// keeping the stored dumps together under `max_size`; returns the bytes added. A dump that
/// has a magic but does not decompress is kept as received, with a note. Dumps the client
/// declared compressed files ([`Extracted::compressed_files`]) are left as sent: inflating a
/// memory report would change the file downstream readers expect, and could push a crash
/// over the cap and lose it.
pub fn inflate_dumps(extracted: &mut Extracted, max_size: usize) -> Result<usize, Reject> {
    let mut total: usize = extracted.dumps.values().map(Bytes::len).sum();
    let mut added = 0;
    for (name, dump) in extracted.dumps.iter_mut() {
        let Some(codec) = Codec::sniff(dump) else {
            continue;
        };
        if extracted.compressed_files.contains(name) {
            continue;
        }
        let others = total - dump.len();
        match decompress::decompress(codec, dump, max_size.saturating_sub(others)) {
            Ok(inflated) => {
                total = others + inflated.len();
                added += inflated.len().saturating_sub(dump.len());
                *dump = inflated;
                extracted
                    .notes
                    .push(format!("{name} was {}-compressed", codec.name()));
            }
            Err(DecompressError::TooLarge { .. }) => return Err(Reject::TooLarge(max_size)),
            Err(DecompressError::Damaged(_) | DecompressError::WindowTooLarge { .. }) => {
                extracted.notes.push(format!(
                    "{name} looked {}-compressed but did not decompress",
                    codec.name()
                ));
            }
        }
    }
    Ok(added)
}

/// Sorts parts one at a time, with what the order rules need to know.
#[derive(Debug, Default)]
struct Sorter {
    out: Extracted,
    has_form_fields: bool,
}

impl Sorter {
    /// Sorts one part. A dump part that holds a whole form goes to `nested` (when given)
    /// instead, with its dump name.
    fn sort(
        &mut self,
        part: Part,
        nested: Option<&mut Vec<(String, Vec<Part>)>>,
    ) -> Result<(), Reject> {
        let out = &mut self.out;
        let Some(name) = part.name.clone().filter(|name| !name.is_empty()) else {
            return Ok(());
        };
        let media_type = part.media_type();
        let media_type = media_type.as_deref().unwrap_or("text/plain");
        if media_type.starts_with("application/json") {
            // from_slice checks UTF-8 as it parses.
            match serde_json::from_slice::<Value>(&part.body) {
                Ok(Value::Object(map)) => out.annotations = map,
                Ok(_) => return Err(Reject::InvalidJsonValue),
                Err(error) => return Err(Reject::InvalidJson(error)),
            }
            out.payload = Payload::Json;
        } else if media_type.starts_with("text/plain") && part.filename.is_none() {
            self.has_form_fields = true;
            let charset = part.charset().unwrap_or_else(|| "utf-8".to_owned());
            if part.body.len() > MAX_ANNOTATION_LEN {
                out.notes
                    .push("extract payload text part exception: body part is too large".into());
                return Ok(());
            }
            match decode(&part.body, &charset) {
                Some(value) => {
                    out.annotations.insert(name, Value::String(value));
                }
                None => out.notes.push(format!(
                    "extract payload text part exception: invalid text or charset: {charset}"
                )),
            }
        } else {
            let dump_name = sanitize_dump_name(&name);
            if RESERVED_DUMP_NAMES.contains(&dump_name.as_str()) {
                return Err(Reject::InvalidDumpName(dump_name));
            }
            if let Some(nested) = nested {
                if let Some(parts) = nested_form(&part.body) {
                    nested.push((dump_name, parts));
                    return Ok(());
                }
            }
            if media_type != "application/octet-stream" {
                let content_type = part.content_type.as_deref().unwrap_or("text/plain");
                out.notes
                    .push(format!("unknown content type: {name} {content_type}"));
            }
            if COMPRESSED_FILE_TYPES.contains(&media_type) {
                out.compressed_files.insert(dump_name.clone());
            } else {
                out.compressed_files.remove(&dump_name);
            }
            out.dumps.insert(dump_name, part.body);
        }
        Ok(())
    }

    /// Takes what `inner` found that this one does not already have.
    fn adopt(&mut self, inner: Sorter) {
        let out = &mut self.out;
        for (name, value) in inner.out.annotations {
            out.annotations.entry(name).or_insert(value);
        }
        for (name, dump) in inner.out.dumps {
            if let std::collections::btree_map::Entry::Vacant(entry) = out.dumps.entry(name) {
                if inner.out.compressed_files.contains(entry.key()) {
                    out.compressed_files.insert(entry.key().clone());
                }
                entry.insert(dump);
            }
        }
        out.notes.extend(inner.out.notes);
        if inner.out.payload == Payload::Json {
            out.payload = Payload::Json;
        }
        self.has_form_fields |= inner.has_form_fields;
    }
}

/// The parts of a dump part's bytes if they are a whole multipart form: they start with
/// `--`, the first line is a valid boundary, and they parse with it.
fn nested_form(body: &Bytes) -> Option<Vec<Part>> {
    let boundary = multipart::leading_boundary(body)?;
    let limits = Limits {
        max_body: body.len(),
        ..Limits::default()
    };
    multipart::parse_all(boundary, BytesMut::from(&body[..]), limits).ok()
}

/// Keeps ASCII letters, digits and `_`, then cuts to 30 characters.
pub fn sanitize_dump_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(MAX_DUMP_NAME_LEN)
        .collect()
}

/// Decodes an annotation in its charset; `None` for invalid text or an unknown charset.
fn decode(bytes: &[u8], charset: &str) -> Option<String> {
    let normalized: String = charset
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match normalized.as_str() {
        "utf8" => String::from_utf8(bytes.to_vec()).ok(),
        "ascii" | "usascii" => bytes
            .is_ascii()
            .then(|| String::from_utf8_lossy(bytes).into_owned()),
        "latin1" | "iso88591" | "l1" => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(
        name: Option<&str>,
        filename: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Part {
        Part {
            name: name.map(str::to_owned),
            filename: filename.map(str::to_owned),
            content_type: content_type.map(str::to_owned),
            body: Bytes::copy_from_slice(body),
        }
    }

    fn field(name: &str, value: &str) -> Part {
        part(Some(name), None, None, value.as_bytes())
    }

    #[test]
    fn annotations_and_dumps() {
        let out = extract(vec![
            field("ProductName", "Firefox"),
            field("Empty", ""),
            part(None, None, None, b"nameless"),
            part(
                Some("upload_file_minidump"),
                Some("a.dmp"),
                Some("application/octet-stream"),
                b"MDMP",
            ),
            part(
                Some("upload-file.minidump/../x_1234567890123456789012345"),
                Some("b"),
                Some("application/octet-stream"),
                b"2",
            ),
            part(
                Some("memory_report"),
                Some("m.json.gz"),
                Some("application/gzip"),
                b"3",
            ),
            part(
                Some("upload_file_minidump_browser"),
                Some("c.dmp"),
                None,
                b"4",
            ),
            part(
                Some("!!!"),
                Some("d"),
                Some("application/octet-stream"),
                b"5",
            ),
        ])
        .unwrap();
        assert_eq!(out.annotations["ProductName"], "Firefox");
        assert_eq!(out.annotations["Empty"], "");
        assert_eq!(out.annotations.len(), 2);
        let names: Vec<_> = out.dumps.keys().cloned().collect();
        assert_eq!(
            names,
            [
                "",
                "memory_report",
                "upload_file_minidump",
                "upload_file_minidump_browser",
                "uploadfileminidumpx_1234567890"
            ]
        );
        assert_eq!(
            out.notes,
            [
                "unknown content type: memory_report application/gzip",
                "unknown content type: upload_file_minidump_browser text/plain",
            ]
        );
        assert_eq!(out.payload, Payload::Multipart);
    }

    #[test]
    fn json_replaces_earlier_fields_and_later_fields_override() {
        let out = extract(vec![
            field("Lost", "1"),
            part(
                Some("extra"),
                Some("extra.json"),
                Some("application/json"),
                br#"{"ProductName": "Firefox", "Num": 5, "Nested": {"a": [1]}}"#,
            ),
            field("ProductName", "Fenix"),
        ])
        .unwrap();
        assert!(!out.annotations.contains_key("Lost"));
        assert_eq!(out.annotations["ProductName"], "Fenix");
        assert_eq!(out.annotations["Num"], 5);
        assert_eq!(out.annotations["Nested"]["a"][0], 1);
        assert_eq!(out.notes, [BOTH_STYLES_NOTE]);
        assert_eq!(out.payload, Payload::Json);
    }

    #[test]
    fn duplicates_last_wins() {
        let out = extract(vec![
            field("A", "1"),
            field("A", "2"),
            part(
                Some("d"),
                Some("x"),
                Some("application/octet-stream"),
                b"first",
            ),
            part(
                Some("d"),
                Some("x"),
                Some("application/octet-stream"),
                b"second",
            ),
        ])
        .unwrap();
        assert_eq!(out.annotations["A"], "2");
        assert_eq!(&out.dumps["d"][..], b"second");
    }

    #[test]
    fn charsets_and_invalid_text() {
        let out = extract(vec![
            field("Ok", "é"),
            part(Some("Bad"), None, Some("text/plain"), b"\xff\xfe"),
            part(
                Some("Latin"),
                None,
                Some("text/plain; charset=latin-1"),
                b"caf\xe9",
            ),
            part(
                Some("Weird"),
                None,
                Some("text/plain; charset=klingon"),
                b"x",
            ),
        ])
        .unwrap();
        assert_eq!(out.annotations["Ok"], "é");
        assert_eq!(out.annotations["Latin"], "café");
        assert!(!out.annotations.contains_key("Bad"));
        assert_eq!(
            out.notes,
            [
                "extract payload text part exception: invalid text or charset: utf-8",
                "extract payload text part exception: invalid text or charset: klingon",
            ]
        );
    }

    #[test]
    fn rejects() {
        let json = |body: &[u8]| part(Some("extra"), None, Some("application/json"), body);
        assert!(matches!(
            extract(vec![json(b"{nope")]),
            Err(Reject::InvalidJson(_))
        ));
        for not_utf8 in [&b"\xff"[..], b"{\"a\": \"\xff\"}"] {
            assert!(matches!(
                extract(vec![json(not_utf8)]),
                Err(Reject::InvalidJson(_))
            ));
        }
        assert!(matches!(
            extract(vec![json(b"[1]")]),
            Err(Reject::InvalidJsonValue)
        ));
        assert!(matches!(
            extract(vec![json(b"{}")]),
            Err(Reject::NoAnnotations)
        ));
        let dump = part(
            Some("upload_file_minidump"),
            Some("a"),
            Some("application/octet-stream"),
            b"x",
        );
        assert!(matches!(extract(vec![dump]), Err(Reject::NoAnnotations)));
        let reserved = part(
            Some("raw_crash"),
            Some("a"),
            Some("application/octet-stream"),
            b"x",
        );
        assert!(matches!(
            extract(vec![field("A", "1"), reserved]),
            Err(Reject::InvalidDumpName(name)) if name == "raw_crash"
        ));
    }

    #[test]
    fn raw_minidump_takes_annotations_from_the_query() {
        let out = raw_minidump(
            Bytes::from_static(b"MDMP..."),
            Some("ProductName=Firefox&Version=133.0&Note=a%20b+c%2B&Version=134.0&flag&=x&Bad=%ff"),
        )
        .unwrap();
        assert_eq!(out.annotations["ProductName"], "Firefox");
        assert_eq!(out.annotations["Version"], "134.0", "the last wins");
        assert_eq!(out.annotations["Note"], "a b c+");
        assert_eq!(out.annotations["flag"], "");
        assert!(!out.annotations.contains_key("Bad"));
        assert_eq!(
            out.notes,
            ["query parameter Bad is not valid UTF-8 text; dropped"]
        );
        assert_eq!(&out.dumps["upload_file_minidump"][..], b"MDMP...");
        assert_eq!(out.payload, Payload::Raw);
        assert!(matches!(
            raw_minidump(Bytes::from_static(b"MDMP"), None),
            Err(Reject::NoAnnotations)
        ));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%4").as_deref(), Some("%4"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
    }

    fn nested_body() -> Vec<u8> {
        b"--inner-boundary\r\n\
Content-Disposition: form-data; name=\"ProductName\"\r\n\r\nInner\r\n\
--inner-boundary\r\n\
Content-Disposition: form-data; name=\"Version\"\r\n\r\n1.0\r\n\
--inner-boundary\r\n\
Content-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"a.dmp\"\r\n\
Content-Type: application/octet-stream\r\n\r\nMDMP inner\r\n\
--inner-boundary--\r\n"
            .to_vec()
    }

    #[test]
    fn nested_form_is_unwrapped_outer_parts_win() {
        let out = extract(vec![
            field("ProductName", "Electron"),
            part(
                Some("upload_file_minidump"),
                Some("blob"),
                Some("application/octet-stream"),
                &nested_body(),
            ),
        ])
        .unwrap();
        assert_eq!(out.annotations["ProductName"], "Electron");
        assert_eq!(out.annotations["Version"], "1.0");
        assert_eq!(&out.dumps["upload_file_minidump"][..], b"MDMP inner");
        assert_eq!(
            out.notes,
            ["upload_file_minidump held a nested multipart form"]
        );
        // Starts with `--` but is not a form: a dump like any other.
        let not_a_form = extract(vec![
            field("A", "1"),
            part(
                Some("d"),
                Some("x"),
                Some("application/octet-stream"),
                b"--x\r\njunk",
            ),
        ])
        .unwrap();
        assert_eq!(&not_a_form.dumps["d"][..], b"--x\r\njunk");
        assert!(not_a_form.notes.is_empty());
    }

    #[test]
    fn compressed_dumps_are_inflated_under_the_cap() {
        let dump = b"MDMP".repeat(1000);
        let mut out = extract(vec![
            field("A", "1"),
            part(
                Some("upload_file_minidump"),
                Some("a.dmp.gz"),
                Some("application/octet-stream"),
                &antenna_testkit::gzip(&dump),
            ),
            part(
                Some("other"),
                Some("b"),
                Some("application/octet-stream"),
                b"BZh9 not really bzip2",
            ),
            part(
                Some("memory_report"),
                Some("memory-report.json.gz"),
                Some("application/x-gzip"),
                &antenna_testkit::gzip(b"{}"),
            ),
        ])
        .unwrap();
        let memory_report = out.dumps["memory_report"].clone();
        let compressed_len = out.dumps["upload_file_minidump"].len();
        let cap = dump.len() + 21 + memory_report.len();
        assert_eq!(
            inflate_dumps(&mut out, cap).unwrap(),
            dump.len() - compressed_len
        );
        assert!(out.dumps["upload_file_minidump"][..] == dump[..]);
        assert_eq!(&out.dumps["other"][..], b"BZh9 not really bzip2");
        assert_eq!(
            out.dumps["memory_report"], memory_report,
            "a declared .gz file"
        );
        assert_eq!(
            out.notes,
            [
                "unknown content type: memory_report application/x-gzip",
                "other looked bzip2-compressed but did not decompress",
                "upload_file_minidump was gzip-compressed",
            ]
        );
        // The cap is on every stored dump together.
        let mut over = extract(vec![
            field("A", "1"),
            part(Some("d"), Some("x"), None, &antenna_testkit::gzip(&dump)),
            part(Some("e"), Some("y"), None, b"12345"),
        ])
        .unwrap();
        assert!(matches!(
            inflate_dumps(&mut over, dump.len() + 4),
            Err(Reject::TooLarge(_))
        ));
    }
}
