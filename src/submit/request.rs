//! The checks a submission passes before a byte of its body is read: content type,
//! boundary, length, encoding (SPEC §2, in Antenna's order: the first failure wins).
//!
//! Besides multipart forms, a body may be a bare minidump (SPEC §2 "What real reporters
//! send"): its media type says so here, its `MDMP` magic is checked once it has arrived.

use http::header::{self, HeaderMap};

use super::reject::Reject;
use crate::multipart::{self, MAX_BOUNDARY_LEN};

/// Media types of a body that is one minidump, annotations in the query string.
const RAW_MINIDUMP_TYPES: &[&str] = &[
    "application/octet-stream",
    "application/x-dmp",
    "application/x-minidump",
];

/// How the body is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `multipart/form-data` (or `multipart/mixed`) with this boundary, unquoted.
    Multipart {
        /// The boundary.
        boundary: String,
    },
    /// The whole body is the `upload_file_minidump` dump.
    RawMinidump,
}

/// What the request head says about the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Multipart or a bare minidump.
    pub form: Form,
    /// `Content-Encoding: gzip` (or `x-gzip`), any case.
    pub compressed: bool,
    /// The declared length; `None` for chunked bodies.
    pub content_length: Option<usize>,
    /// `User-Agent`, as stored in `metadata.user_agent`.
    pub user_agent: Option<String>,
    /// The bearer token of `Authorization: Bearer <token>`, if any.
    pub bearer_token: Option<String>,
    /// The last `X-Forwarded-For` entry: the client as our own proxy saw it.
    pub forwarded_for: Option<String>,
}

/// Checks the request head; `max_size` is `ANTENNA_MAX_CRASH_SIZE`.
pub fn check(headers: &HeaderMap, max_size: usize) -> Result<Head, Reject> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|value| value.as_bytes())
        .filter(|value| !value.iter().all(u8::is_ascii_whitespace))
        .ok_or(Reject::NoContentType)?;
    let (media_type, params) = match content_type.iter().position(|&b| b == b';') {
        Some(at) => (&content_type[..at], &content_type[at + 1..]),
        None => (content_type, &b""[..]),
    };
    let media_type = String::from_utf8_lossy(media_type)
        .trim()
        .to_ascii_lowercase();
    let form = if media_type == "multipart/form-data" || media_type == "multipart/mixed" {
        let boundary = multipart::params(params)
            .find(|(key, _)| key.eq_ignore_ascii_case("boundary"))
            .map(|(_, value)| value)
            .filter(|boundary| !boundary.is_empty() && boundary.len() <= MAX_BOUNDARY_LEN)
            .ok_or(Reject::NoBoundary)?;
        Form::Multipart { boundary }
    } else if RAW_MINIDUMP_TYPES.contains(&media_type.as_str()) {
        Form::RawMinidump
    } else {
        return Err(Reject::WrongContentType);
    };

    let chunked = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .any(|value| value.as_bytes().eq_ignore_ascii_case(b"chunked"));
    let content_length = match headers.get(header::CONTENT_LENGTH) {
        // hyper has already refused a Content-Length that is not a number.
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .ok_or(Reject::NoContentLength)?,
        ),
        None => None,
    };
    let content_length = match content_length {
        Some(0) => return Err(Reject::NoContentLength),
        None if !chunked => return Err(Reject::NoContentLength),
        Some(length) if length > max_size as u64 => return Err(Reject::TooLarge(max_size)),
        other => other.map(|length| length as usize),
    };

    let compressed = headers.get(header::CONTENT_ENCODING).is_some_and(|value| {
        let value = value.as_bytes().trim_ascii();
        value.eq_ignore_ascii_case(b"gzip") || value.eq_ignore_ascii_case(b"x-gzip")
    });
    let text = |name| {
        headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let bearer_token = text(header::AUTHORIZATION).and_then(|value| {
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    });
    // Behind nginx the TCP peer is nginx; the client is the entry nginx added, the last
    // one (earlier entries are whatever the client claimed).
    let forwarded_for = text(http::HeaderName::from_static("x-forwarded-for")).and_then(|list| {
        let last = list.rsplit(',').next()?.trim();
        (!last.is_empty()).then(|| last.to_owned())
    });
    Ok(Head {
        form,
        compressed,
        content_length,
        user_agent: text(header::USER_AGENT),
        bearer_token,
        forwarded_for,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn head(pairs: &[(&'static str, &str)]) -> Result<Head, Reject> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        check(&headers, 1000)
    }

    #[test]
    fn content_type_and_boundary() {
        let ok = |ct: &str| head(&[("content-type", ct), ("content-length", "10")]);
        let boundary = |ct: &str| match ok(ct).unwrap().form {
            Form::Multipart { boundary } => boundary,
            Form::RawMinidump => panic!("{ct} is multipart"),
        };
        assert_eq!(boundary("multipart/form-data; boundary=abc"), "abc");
        assert_eq!(boundary("multipart/form-data; boundary=\"a b;c\""), "a b;c");
        assert_eq!(
            boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=x"),
            "x"
        );
        assert_eq!(boundary("multipart/mixed; boundary=x"), "x");
        for raw in [
            "application/octet-stream",
            "Application/X-Dmp",
            "application/x-minidump; name=a.dmp",
        ] {
            assert_eq!(ok(raw).unwrap().form, Form::RawMinidump, "{raw}");
        }
        assert!(matches!(
            head(&[("content-length", "10")]),
            Err(Reject::NoContentType)
        ));
        assert!(matches!(ok(""), Err(Reject::NoContentType)));
        assert!(matches!(
            ok("application/json"),
            Err(Reject::WrongContentType)
        ));
        assert!(matches!(ok("multipart/form-data"), Err(Reject::NoBoundary)));
        assert!(matches!(
            ok("multipart/form-data; boundary="),
            Err(Reject::NoBoundary)
        ));
        assert!(matches!(
            ok("multipart/form-data; boundary=\"\""),
            Err(Reject::NoBoundary)
        ));
        let long = format!("multipart/form-data; boundary={}", "b".repeat(71));
        assert!(matches!(ok(&long), Err(Reject::NoBoundary)));
        let longest = format!("multipart/form-data; boundary={}", "b".repeat(70));
        assert!(ok(&longest).is_ok());
    }

    #[test]
    fn length_and_encoding() {
        let ct = ("content-type", "multipart/form-data; boundary=x");
        assert!(matches!(head(&[ct]), Err(Reject::NoContentLength)));
        assert!(matches!(
            head(&[ct, ("content-length", "0")]),
            Err(Reject::NoContentLength)
        ));
        assert!(matches!(
            head(&[ct, ("content-length", "1001")]),
            Err(Reject::TooLarge(1000))
        ));
        let chunked = head(&[
            ct,
            ("transfer-encoding", "chunked"),
            ("content-encoding", "GZIP"),
        ]);
        let chunked = chunked.unwrap();
        assert_eq!(chunked.content_length, None);
        assert!(chunked.compressed);
        let plain = head(&[ct, ("content-length", "5"), ("content-encoding", "deflate")]).unwrap();
        assert!(!plain.compressed);
        let auth = head(&[
            ct,
            ("content-length", "5"),
            ("authorization", "Bearer  tok "),
        ]);
        assert_eq!(auth.unwrap().bearer_token.as_deref(), Some("tok"));
    }
}
