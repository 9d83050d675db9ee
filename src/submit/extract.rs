//! From multipart parts to annotations and dumps (SPEC §2 "Parts"; Antenna's
//! `extract_payload`, edge case by edge case).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::reject::Reject;
use crate::multipart::Part;

/// Dump names that would collide with the storage's own objects.
const RESERVED_DUMP_NAMES: &[&str] = &["dump_names", "processed_crash", "raw_crash"];
/// Longest stored dump name.
const MAX_DUMP_NAME_LEN: usize = 30;
/// Antenna drops (with a note) a text annotation larger than this.
const MAX_ANNOTATION_LEN: usize = 20 * 1024 * 1024;
/// Note added when a report mixes the two annotation styles.
pub const BOTH_STYLES_NOTE: &str =
    "includes annotations in both json-encoded extra and formdata parts";

/// What a body holds.
#[derive(Debug, Default, PartialEq)]
pub struct Extracted {
    /// Annotation name → value (strings from form fields; any JSON type from `extra`).
    pub annotations: Map<String, Value>,
    /// Sanitised dump name → bytes; for duplicates the last wins.
    pub dumps: BTreeMap<String, Bytes>,
    /// Collector notes, in the order things happened.
    pub notes: Vec<String>,
    /// True when a JSON annotations part was seen (`metadata.payload` = `json`).
    pub has_json: bool,
}

/// Sorts parts into annotations and dumps.
pub fn extract(parts: Vec<Part>) -> Result<Extracted, Reject> {
    let mut out = Extracted::default();
    let mut has_form_fields = false;
    for part in parts {
        let Some(name) = part.name.clone().filter(|name| !name.is_empty()) else {
            continue;
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
            out.has_json = true;
        } else if media_type.starts_with("text/plain") && part.filename.is_none() {
            has_form_fields = true;
            let charset = part.charset().unwrap_or_else(|| "utf-8".to_owned());
            if part.body.len() > MAX_ANNOTATION_LEN {
                out.notes
                    .push("extract payload text part exception: body part is too large".into());
                continue;
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
            if media_type != "application/octet-stream" {
                let content_type = part.content_type.as_deref().unwrap_or("text/plain");
                out.notes
                    .push(format!("unknown content type: {name} {content_type}"));
            }
            out.dumps.insert(dump_name, part.body);
        }
    }
    if out.has_json && has_form_fields {
        out.notes.push(BOTH_STYLES_NOTE.to_owned());
    }
    if out.annotations.is_empty() {
        return Err(Reject::NoAnnotations);
    }
    Ok(out)
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
        assert!(!out.has_json);
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
        assert!(out.has_json);
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
}
