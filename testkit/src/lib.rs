//! What antenna's tests, benches and load harness all need to build crash uploads: one
//! multipart body builder, gzip, and the files of `testdata/`. Never a dependency of the
//! collector itself.

use std::path::{Path, PathBuf};

/// The boundary of bodies built with [`Multipart::new`].
pub const BOUNDARY: &str = "------------------------c0ffee5eed";

/// A multipart/form-data body under construction, as crash reporters write them.
#[derive(Debug, Clone)]
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Multipart {
        Multipart::with_boundary(BOUNDARY)
    }
}

impl Multipart {
    /// An empty body with [`BOUNDARY`].
    pub fn new() -> Multipart {
        Multipart::default()
    }

    /// An empty body with `boundary`.
    pub fn with_boundary(boundary: &str) -> Multipart {
        Multipart {
            boundary: boundary.to_owned(),
            body: Vec::new(),
        }
    }

    /// The `Content-Type` header value for this body.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// A part with raw `headers` (`Name: value` lines joined by CRLF) and `data`.
    pub fn part(mut self, headers: &str, data: &[u8]) -> Multipart {
        let head = format!("--{}\r\n{headers}\r\n\r\n", self.boundary);
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A form field (an annotation).
    pub fn field(self, name: &str, value: &str) -> Multipart {
        self.part(
            &format!("Content-Disposition: form-data; name=\"{name}\""),
            value.as_bytes(),
        )
    }

    /// Every member of a JSON object as a form field; non-string values as their JSON text.
    pub fn fields(mut self, annotations: &serde_json::Value) -> Multipart {
        let Some(object) = annotations.as_object() else {
            return self;
        };
        for (name, value) in object {
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            self = self.field(name, &text);
        }
        self
    }

    /// A dump file part named `name`.
    pub fn dump(self, name: &str, data: &[u8]) -> Multipart {
        self.part(
            &format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}.dmp\"\r\nContent-Type: application/octet-stream"
            ),
            data,
        )
    }

    /// The annotations as one JSON part (`extra`), as Crashpad can send them.
    pub fn json(self, value: &serde_json::Value) -> Multipart {
        self.part(
            "Content-Disposition: form-data; name=\"extra\"; filename=\"extra.json\"\r\nContent-Type: application/json",
            value.to_string().as_bytes(),
        )
    }

    /// The finished body, closing delimiter included.
    pub fn build(mut self) -> Vec<u8> {
        let close = format!("--{}--\r\n", self.boundary);
        self.body.extend_from_slice(close.as_bytes());
        self.body
    }
}

/// `data` gzip-compressed (libdeflate, default level).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
    let mut out = vec![0; compressor.gzip_compress_bound(data.len())];
    let len = compressor
        .gzip_compress(data, &mut out)
        .expect("the buffer is sized by gzip_compress_bound");
    out.truncate(len);
    out
}

/// `data` compressed in `format`: `gzip`, `zstd`, `xz` or `bzip2` (the dump-part codecs of
/// SPEC §2). Panics on any other name.
pub fn compress(format: &str, data: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    match format {
        "gzip" => gzip(data),
        "zstd" => {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }
        "xz" => {
            let mut out = Vec::new();
            liblzma::read::XzEncoder::new(data, 6)
                .read_to_end(&mut out)
                .expect("xz into memory cannot fail");
            out
        }
        "bzip2" => {
            let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            encoder
                .write_all(data)
                .expect("bzip2 into memory cannot fail");
            encoder.finish().expect("bzip2 into memory cannot fail")
        }
        other => panic!("no compressor for {other:?}"),
    }
}

/// The repository's `testdata/` folder (see `testdata/README.md`).
pub fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// A file from `testdata/`; panics naming the path when it cannot be read.
pub fn testdata(relative: &str) -> Vec<u8> {
    let path = testdata_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_what_a_reporter_sends() {
        let body = Multipart::with_boundary("b")
            .field("ProductName", "Firefox")
            .dump("upload_file_minidump", b"MDMP")
            .build();
        let expected = "--b\r\nContent-Disposition: form-data; name=\"ProductName\"\r\n\r\nFirefox\r\n\
             --b\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"upload_file_minidump.dmp\"\r\nContent-Type: application/octet-stream\r\n\r\nMDMP\r\n--b--\r\n";
        assert_eq!(String::from_utf8(body).unwrap(), expected);
    }
}
