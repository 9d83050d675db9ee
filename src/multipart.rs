//! Streaming `multipart/form-data` parser (RFC 7578 over RFC 2046 framing).
//!
//! Pure: no sockets, no tasks, no clock. The caller [`feed`](Parser::feed)s bytes as they
//! arrive, says when the input is over with [`finish`](Parser::finish), and pulls complete
//! parts with [`next_part`](Parser::next_part), which answers [`Next::NeedMore`] until a whole
//! part is buffered. "Need more input" is a state, not an error, so a body split anywhere —
//! one byte per chunk included — yields the same parts.
//!
//! Input gathers in one `BytesMut`; a finished part leaves it with `split_to(..).freeze()`,
//! so part bodies (the dumps, hundreds of KB each) are `Bytes` views of that buffer and are
//! never copied again. A caller that already holds the whole body (a decompressed gzip body)
//! hands it over with [`feed_buffer`](Parser::feed_buffer) and nothing is copied at all.
//!
//! The delimiter search is `memchr::memmem` over the unscanned tail only: after a miss the
//! scan resumes `delimiter.len() - 1` bytes before the end, so a large part arriving in many
//! chunks is scanned once, not once per chunk.
//!
//! Leniency, all deliberate (crash reporters are old and varied): junk before the first
//! boundary is skipped, the closing delimiter need not end in CRLF and the epilogue is
//! ignored, transport padding (spaces, tabs) after a delimiter is allowed, folded part headers
//! are unfolded and header names match case-insensitively. A delimiter look-alike inside a
//! part (`\r\n--<boundary>` followed by anything but `--` or padding + CRLF) is part data.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;

/// Hard limits, given at construction. They are the parser's defence against memory and CPU
/// exhaustion: there is deliberately no "unlimited".
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body, in bytes, the parser accepts in total.
    pub max_body: usize,
    /// Largest header block of one part. Antenna (Falcon) allows 8 KiB.
    pub max_header_block: usize,
    /// Most parts in one body. Real crashes carry a few hundred annotations at most.
    pub max_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 25 * 1024 * 1024,
            max_header_block: 8 * 1024,
            max_parts: 4096,
        }
    }
}

/// Why a body is not acceptable multipart. The message text is for logs, not a contract.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the closing delimiter (also: wrong boundary, LF-only lines).
    #[error("body ended before the closing boundary")]
    Truncated,
    /// More bytes than [`Limits::max_body`].
    #[error("body is larger than {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// A part's header block is larger than [`Limits::max_header_block`].
    #[error("part header block is larger than {limit} bytes")]
    HeaderTooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// More parts than [`Limits::max_parts`].
    #[error("more than {limit} parts")]
    TooManyParts {
        /// The limit that was passed.
        limit: usize,
    },
    /// A part header line that is not `Name: value`.
    #[error("invalid part header: {0}")]
    InvalidHeader(String),
    /// A `Content-Transfer-Encoding` we cannot store byte-for-byte (base64, quoted-printable).
    #[error("unsupported Content-Transfer-Encoding {0:?}")]
    UnsupportedTransferEncoding(String),
}

/// One complete part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `name` parameter of `Content-Disposition`; `None` when absent.
    pub name: Option<String>,
    /// `filename` (or `filename*`) parameter of `Content-Disposition`.
    pub filename: Option<String>,
    /// The part's `Content-Type` header value as sent, trimmed.
    pub content_type: Option<String>,
    /// The part's bytes, exactly as sent.
    pub body: Bytes,
}

impl Part {
    /// The media type of `Content-Type`, lowercased (`application/octet-stream`).
    pub fn media_type(&self) -> Option<String> {
        let content_type = self.content_type.as_deref()?;
        let media = content_type.split(';').next().unwrap_or("").trim();
        Some(media.to_ascii_lowercase())
    }

    /// The `charset` parameter of `Content-Type`, if any.
    pub fn charset(&self) -> Option<String> {
        let content_type = self.content_type.as_deref()?;
        params(content_type.split_once(';')?.1.as_bytes())
            .find(|(key, _)| key.eq_ignore_ascii_case("charset"))
            .map(|(_, value)| value)
    }
}

/// What [`Parser::next_part`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A complete part.
    Part(Part),
    /// No complete part buffered yet: feed more input (or call `finish`).
    NeedMore,
    /// The closing delimiter was seen; there are no more parts.
    End,
}

/// Where the parser is in the body.
#[derive(Debug)]
enum Stage {
    /// Skipping anything before the first delimiter.
    Preamble,
    /// Reading a part's header block.
    Headers,
    /// Reading a part's body, up to the next delimiter.
    Body(PartHeaders),
    /// After the closing delimiter: everything else is ignored.
    End,
}

#[derive(Debug, Default)]
struct PartHeaders {
    name: Option<String>,
    filename: Option<String>,
    content_type: Option<String>,
}

/// A delimiter found in the buffer: the data before it ends at `start`, what follows it
/// begins at `end`.
struct Found {
    start: usize,
    end: usize,
    closing: bool,
}

/// What follows a `--<boundary>` match.
enum AfterBoundary {
    /// `--`: the closing delimiter; consume up to this offset.
    Close(usize),
    /// Padding + CRLF: a part follows; consume up to this offset.
    Open(usize),
    /// Something else: the match was data.
    NotDelimiter,
    /// Not enough bytes buffered to tell.
    NeedMore,
}

/// Most spaces/tabs accepted after a delimiter before it is judged not to be one.
const MAX_TRANSPORT_PADDING: usize = 64;
/// Most header lines in one part; real parts have two or three.
const MAX_HEADERS_PER_PART: usize = 32;

/// The streaming parser; see the module docs.
#[derive(Debug)]
pub struct Parser {
    buf: BytesMut,
    stage: Stage,
    /// `\r\n--<boundary>`.
    delimiter: Box<[u8]>,
    finder: memmem::Finder<'static>,
    /// Offset in `buf` from which the delimiter (or header end) search resumes.
    scan_from: usize,
    /// True until the first byte of the body has been consumed: only there may the first
    /// delimiter come without its leading CRLF.
    at_body_start: bool,
    received: usize,
    /// The declared body length (0 when unknown), clamped to the body limit.
    expected: usize,
    parts: usize,
    finished: bool,
    limits: Limits,
}

/// Buffer reserved up front, whatever the declared length.
const INITIAL_CAPACITY: usize = 4 << 10;
/// Once this much has arrived the client is really sending: the buffer grows straight to
/// the rest of the declared body, in one step.
const SENDING: usize = 32 << 10;

impl Parser {
    /// A parser for `boundary` (already unquoted; 1 to 70 bytes by RFC 2046, checked by the
    /// caller so it can answer with its own reason code).
    pub fn new(boundary: &str, limits: Limits) -> Parser {
        Parser::with_capacity(boundary, limits, 0)
    }

    /// As [`new`](Parser::new), for a body of `expected` bytes (a Content-Length). The buffer
    /// starts at 4 KiB and grows with what arrives — doubling until 32 KiB have come, then to
    /// the rest of `expected` in one step — so a declared length costs memory only as its
    /// bytes come (a stalled client that declared 20 MB holds 4 KiB, not 20 MB).
    pub fn with_capacity(boundary: &str, limits: Limits, expected: usize) -> Parser {
        let mut delimiter = Vec::with_capacity(boundary.len() + 4);
        delimiter.extend_from_slice(b"\r\n--");
        delimiter.extend_from_slice(boundary.as_bytes());
        let finder = memmem::Finder::new(&delimiter).into_owned();
        let expected = expected.min(limits.max_body);
        Parser {
            buf: BytesMut::with_capacity(expected.min(INITIAL_CAPACITY)),
            expected,
            stage: Stage::Preamble,
            delimiter: delimiter.into_boxed_slice(),
            finder,
            scan_from: 0,
            at_body_start: true,
            received: 0,
            parts: 0,
            finished: false,
            limits,
        }
    }

    /// Appends input. Fails once the total exceeds [`Limits::max_body`].
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.count(chunk.len())?;
        if !matches!(self.stage, Stage::End) {
            let needed = self.buf.len() + chunk.len();
            if needed > self.buf.capacity() {
                // Double with what has arrived until the client has shown it is sending,
                // then take the rest of the declared body at once (never more).
                let consumed = self.received.saturating_sub(needed);
                let rest_of_body = self.expected.saturating_sub(consumed);
                let doubled = needed.max(self.received.saturating_mul(2));
                let target = if self.received >= SENDING || rest_of_body < doubled {
                    rest_of_body.max(needed)
                } else {
                    doubled
                };
                self.buf.reserve(target - self.buf.len());
            }
            self.buf.extend_from_slice(chunk);
        }
        Ok(())
    }

    /// Appends an owned buffer; when nothing is buffered it is adopted without a copy.
    pub fn feed_buffer(&mut self, data: BytesMut) -> Result<(), Error> {
        self.count(data.len())?;
        if self.buf.is_empty() {
            self.buf = data;
        } else if !matches!(self.stage, Stage::End) {
            self.buf.extend_from_slice(&data);
        }
        Ok(())
    }

    /// Marks the end of input: from now on a missing delimiter is an error, not "need more".
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Total bytes fed so far.
    pub fn received(&self) -> usize {
        self.received
    }

    fn count(&mut self, len: usize) -> Result<(), Error> {
        self.received = self.received.saturating_add(len);
        if self.received > self.limits.max_body {
            return Err(Error::TooLarge {
                limit: self.limits.max_body,
            });
        }
        Ok(())
    }

    /// The next complete part, [`Next::NeedMore`], or [`Next::End`].
    pub fn next_part(&mut self) -> Result<Next, Error> {
        loop {
            match std::mem::replace(&mut self.stage, Stage::End) {
                Stage::Preamble => {
                    if !self.skip_preamble()? {
                        self.stage = Stage::Preamble;
                        return self.need_more();
                    }
                }
                Stage::Headers => match self.read_headers()? {
                    Some(headers) => {
                        self.parts += 1;
                        if self.parts > self.limits.max_parts {
                            return Err(Error::TooManyParts {
                                limit: self.limits.max_parts,
                            });
                        }
                        self.stage = Stage::Body(headers);
                    }
                    None => {
                        self.stage = Stage::Headers;
                        return self.need_more();
                    }
                },
                Stage::Body(headers) => match self.find_delimiter() {
                    Some(found) => {
                        let body = self.buf.split_to(found.start).freeze();
                        if found.closing {
                            self.close();
                        } else {
                            self.open_part(found.end - found.start);
                        }
                        let part = Part {
                            name: headers.name,
                            filename: headers.filename,
                            content_type: headers.content_type,
                            body,
                        };
                        return Ok(Next::Part(part));
                    }
                    None => {
                        self.stage = Stage::Body(headers);
                        return self.need_more();
                    }
                },
                Stage::End => {
                    self.buf = BytesMut::new();
                    return Ok(Next::End);
                }
            }
        }
    }

    fn need_more(&self) -> Result<Next, Error> {
        if self.finished {
            Err(Error::Truncated)
        } else {
            Ok(Next::NeedMore)
        }
    }

    /// Drops `n` bytes from the front of the buffer and restarts scanning there.
    fn consume(&mut self, n: usize) {
        self.buf.advance(n);
        self.scan_from = 0;
        self.at_body_start = false;
    }

    /// Looks for the first delimiter; true once found and consumed (stage set).
    fn skip_preamble(&mut self) -> Result<bool, Error> {
        if self.at_body_start {
            let dash_boundary_len = self.delimiter.len() - 2;
            let prefix = self.buf.len().min(dash_boundary_len);
            if self.buf[..prefix] == self.delimiter[2..2 + prefix] {
                if prefix < dash_boundary_len {
                    return Ok(false);
                }
                match self.after_boundary(dash_boundary_len) {
                    AfterBoundary::NeedMore => return Ok(false),
                    AfterBoundary::NotDelimiter => {}
                    AfterBoundary::Open(end) => {
                        self.open_part(end);
                        return Ok(true);
                    }
                    AfterBoundary::Close(_) => {
                        self.close();
                        return Ok(true);
                    }
                }
            }
        }
        match self.find_delimiter() {
            Some(Found { end, closing, .. }) => {
                if closing {
                    self.close();
                } else {
                    self.open_part(end);
                }
                Ok(true)
            }
            None => {
                // Preamble bytes before the resume point cannot start a delimiter: drop them
                // so junk cannot pile up.
                if self.scan_from > 0 {
                    self.buf.advance(self.scan_from);
                    self.scan_from = 0;
                    self.at_body_start = false;
                }
                Ok(false)
            }
        }
    }

    /// Consumes a delimiter that ends at `end` and expects a part's headers next.
    fn open_part(&mut self, end: usize) {
        self.consume(end);
        self.stage = Stage::Headers;
    }

    /// The closing delimiter was seen: drop the epilogue.
    fn close(&mut self) {
        self.buf = BytesMut::new();
        self.stage = Stage::End;
    }

    /// Finds the next real delimiter at or after `scan_from`, or remembers where to resume.
    fn find_delimiter(&mut self) -> Option<Found> {
        loop {
            let Some(offset) = self.finder.find(&self.buf[self.scan_from..]) else {
                self.scan_from = self
                    .scan_from
                    .max(self.buf.len().saturating_sub(self.delimiter.len() - 1));
                return None;
            };
            let start = self.scan_from + offset;
            match self.after_boundary(start + self.delimiter.len()) {
                AfterBoundary::NotDelimiter => self.scan_from = start + 1,
                AfterBoundary::NeedMore => {
                    self.scan_from = start;
                    return None;
                }
                AfterBoundary::Open(end) => {
                    return Some(Found {
                        start,
                        end,
                        closing: false,
                    })
                }
                AfterBoundary::Close(end) => {
                    return Some(Found {
                        start,
                        end,
                        closing: true,
                    })
                }
            }
        }
    }

    /// Reads one part's header block; `None` until it is all buffered.
    fn read_headers(&mut self) -> Result<Option<PartHeaders>, Error> {
        if self.buf.starts_with(b"\r\n") {
            self.consume(2);
            return Ok(Some(PartHeaders::default()));
        }
        let Some(offset) = memmem::find(&self.buf[self.scan_from..], b"\r\n\r\n") else {
            if self.buf.len() > self.limits.max_header_block {
                return Err(Error::HeaderTooLarge {
                    limit: self.limits.max_header_block,
                });
            }
            self.scan_from = self.buf.len().saturating_sub(3);
            return Ok(None);
        };
        let block_len = self.scan_from + offset + 4;
        if block_len > self.limits.max_header_block {
            return Err(Error::HeaderTooLarge {
                limit: self.limits.max_header_block,
            });
        }
        let headers = parse_part_headers(&self.buf[..block_len])?;
        self.consume(block_len);
        Ok(Some(headers))
    }

    /// Classifies the bytes right after a `--<boundary>` that ends at `end`.
    fn after_boundary(&self, end: usize) -> AfterBoundary {
        let rest = &self.buf[end..];
        if rest.starts_with(b"--") {
            return AfterBoundary::Close(end + 2);
        }
        if rest.len() < 2 && rest.iter().all(|&b| b == b'-' || b == b'\r') {
            return AfterBoundary::NeedMore;
        }
        let padding = rest
            .iter()
            .take(MAX_TRANSPORT_PADDING + 1)
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if padding > MAX_TRANSPORT_PADDING {
            return AfterBoundary::NotDelimiter;
        }
        match &rest[padding..] {
            [] | [b'\r'] => AfterBoundary::NeedMore,
            [b'\r', b'\n', ..] => AfterBoundary::Open(end + padding + 2),
            _ => AfterBoundary::NotDelimiter,
        }
    }
}

/// Parses one part's header block (including its final blank line).
fn parse_part_headers(block: &[u8]) -> Result<PartHeaders, Error> {
    let unfolded;
    let block = if has_folding(block) {
        unfolded = unfold(block);
        &unfolded[..]
    } else {
        block
    };
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS_PER_PART];
    let headers = match httparse::parse_headers(block, &mut slots) {
        Ok(httparse::Status::Complete((_, headers))) => headers,
        Ok(httparse::Status::Partial) => {
            return Err(Error::InvalidHeader("incomplete header block".into()))
        }
        Err(error) => return Err(Error::InvalidHeader(error.to_string())),
    };
    let mut out = PartHeaders::default();
    for header in headers.iter() {
        let text = || {
            std::str::from_utf8(header.value)
                .map(str::trim)
                .map_err(|_| Error::InvalidHeader(format!("{} is not UTF-8", header.name)))
        };
        if header.name.eq_ignore_ascii_case("content-disposition") {
            let value = text()?;
            let params_text = value.split_once(';').map_or("", |(_, rest)| rest);
            for (key, value) in params(params_text.as_bytes()) {
                match key.to_ascii_lowercase().as_str() {
                    "name" => out.name = Some(value),
                    "filename" | "filename*" => out.filename = Some(value),
                    _ => {}
                }
            }
        } else if header.name.eq_ignore_ascii_case("content-type") {
            out.content_type = Some(text()?.to_owned());
        } else if header
            .name
            .eq_ignore_ascii_case("content-transfer-encoding")
        {
            let encoding = text()?;
            if !["binary", "8bit", "7bit"]
                .iter()
                .any(|ok| encoding.eq_ignore_ascii_case(ok))
            {
                return Err(Error::UnsupportedTransferEncoding(encoding.to_owned()));
            }
        }
    }
    Ok(out)
}

/// True when a header line continues on the next line (obsolete folding, RFC 5322 §2.2.3).
fn has_folding(block: &[u8]) -> bool {
    memmem::find_iter(block, b"\r\n").any(|at| matches!(block.get(at + 2), Some(b' ' | b'\t')))
}

/// Removes the CRLF of every folded line, keeping the whitespace that follows it.
fn unfold(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len());
    let mut rest = block;
    while let Some(at) = memmem::find(rest, b"\r\n") {
        out.extend_from_slice(&rest[..at]);
        if !matches!(rest.get(at + 2), Some(b' ' | b'\t')) {
            out.extend_from_slice(b"\r\n");
        }
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    out
}

/// Longest boundary RFC 2046 allows.
pub const MAX_BOUNDARY_LEN: usize = 70;

/// The boundary of a body that opens with its own delimiter line (`--<boundary>` then
/// optional padding and CRLF), as a whole form nested inside a part does. `None` unless that
/// line holds a valid RFC 2046 boundary (1 to 70 `bchars`, not ending in a space).
pub fn leading_boundary(body: &[u8]) -> Option<&str> {
    let rest = body.strip_prefix(b"--")?;
    // The boundary, then transport padding: a short line or none at all.
    let line = &rest[..rest.len().min(MAX_BOUNDARY_LEN + 64)];
    let line = &line[..memmem::find(line, b"\r\n")?];
    let boundary = line.trim_ascii_end();
    let bchar = |b: &u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(b);
    let valid = (1..=MAX_BOUNDARY_LEN).contains(&boundary.len()) && boundary.iter().all(bchar);
    valid.then(|| std::str::from_utf8(boundary).ok()).flatten()
}

/// Parses a whole body already in memory, adopting its buffer (part bodies are views of it).
pub fn parse_all(boundary: &str, body: BytesMut, limits: Limits) -> Result<Vec<Part>, Error> {
    let mut parser = Parser::new(boundary, limits);
    parser.feed_buffer(body)?;
    parser.finish();
    let mut parts = Vec::new();
    loop {
        match parser.next_part()? {
            Next::Part(part) => parts.push(part),
            // Input is finished: the parser never asks for more.
            Next::NeedMore | Next::End => return Ok(parts),
        }
    }
}

/// Parses `; key=value; key="quoted \" value"` parameter lists (Content-Type,
/// Content-Disposition). Keys are returned as sent; values unquoted. Invalid UTF-8 is replaced,
/// which only callers that already checked the text rely on.
pub(crate) fn params(text: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        rest = trim_start(rest);
        while let Some(after) = rest.strip_prefix(b";") {
            rest = trim_start(after);
        }
        if rest.is_empty() {
            return None;
        }
        let key_end = rest
            .iter()
            .position(|&b| b == b'=' || b == b';')
            .unwrap_or(rest.len());
        let key = String::from_utf8_lossy(trim_end(&rest[..key_end])).into_owned();
        rest = &rest[key_end..];
        let Some(after_eq) = rest.strip_prefix(b"=") else {
            continue; // a bare token such as `form-data`: no value
        };
        let after_eq = trim_start(after_eq);
        let (value, remaining) = if let Some(quoted) = after_eq.strip_prefix(b"\"") {
            unquote(quoted)
        } else {
            let end = after_eq
                .iter()
                .position(|&b| b == b';')
                .unwrap_or(after_eq.len());
            (trim_end(&after_eq[..end]).to_vec(), &after_eq[end..])
        };
        rest = remaining;
        return Some((key, String::from_utf8_lossy(&value).into_owned()));
    })
}

/// Reads a quoted string whose opening quote is already consumed; returns the value and what
/// follows the closing quote. `\"` and `\\` are unescaped; any other backslash is kept, since
/// browsers send Windows paths unescaped.
fn unquote(mut rest: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut value = Vec::new();
    while let Some((&byte, tail)) = rest.split_first() {
        match byte {
            b'"' => return (value, tail),
            b'\\' if matches!(tail.first(), Some(b'"' | b'\\')) => {
                value.push(tail[0]);
                rest = &tail[1..];
                continue;
            }
            _ => value.push(byte),
        }
        rest = tail;
    }
    (value, rest)
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &bytes[skip..]
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let keep = bytes.len()
        - bytes
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    &bytes[..keep]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const BOUNDARY: &str = "------------------------d74496d66958873e";

    fn body(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (headers, data) in parts {
            out.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        out
    }

    fn sample_dump() -> Vec<u8> {
        let mut dump = b"MDMP\x93\xa7\0\0".to_vec();
        // Delimiter look-alikes that must stay data.
        dump.extend_from_slice(format!("\r\n--{BOUNDARY}x\r\n").as_bytes());
        dump.extend_from_slice(format!("\r\n--{}", &BOUNDARY[..20]).as_bytes());
        dump.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        dump.extend_from_slice(format!("\r\n--{BOUNDARY}-x").as_bytes());
        dump.extend_from_slice(&[0xff; 300]);
        dump
    }

    fn sample() -> Vec<u8> {
        let dump = sample_dump();
        body(&[
            (
                "Content-Disposition: form-data; name=\"ProductName\"",
                b"Firefox",
            ),
            ("Content-Disposition: form-data; name=\"Empty\"", b""),
            (
                "Content-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"a.dmp\"\r\nContent-Type: application/octet-stream",
                &dump,
            ),
        ])
    }

    /// Feeds `chunks` one by one, pulling parts as they become available.
    fn parse_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Part>, Error> {
        let mut parser = Parser::new(BOUNDARY, Limits::default());
        let mut parts = Vec::new();
        let drain = |parser: &mut Parser, parts: &mut Vec<Part>| loop {
            match parser.next_part()? {
                Next::Part(part) => parts.push(part),
                Next::NeedMore => return Ok(false),
                Next::End => return Ok(true),
            }
        };
        for chunk in chunks {
            parser.feed(chunk)?;
            if drain(&mut parser, &mut parts)? {
                return Ok(parts);
            }
        }
        parser.finish();
        drain(&mut parser, &mut parts)?;
        Ok(parts)
    }

    fn parse(body: &[u8]) -> Result<Vec<Part>, Error> {
        parse_chunks([body])
    }

    #[test]
    fn parses_annotations_and_dump() {
        let parts = parse(&sample()).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].name.as_deref(), Some("ProductName"));
        assert_eq!(&parts[0].body[..], b"Firefox");
        assert_eq!(parts[0].content_type, None);
        assert_eq!(&parts[1].body[..], b"");
        assert_eq!(parts[2].filename.as_deref(), Some("a.dmp"));
        assert_eq!(
            parts[2].media_type().as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(parts[2].body[..], sample_dump()[..]);
    }

    #[test]
    fn boundary_lookalikes_inside_a_dump_are_data() {
        let parts = parse(&sample()).unwrap();
        let dump = &parts[2].body;
        assert!(memmem::find(dump, format!("\r\n--{BOUNDARY}x").as_bytes()).is_some());
        assert!(memmem::find(dump, format!("\r\n--{BOUNDARY}-x").as_bytes()).is_some());
        assert!(dump.ends_with(&[0xff; 300]));
    }

    #[test]
    fn same_parts_for_every_two_way_split() {
        let body = sample();
        let whole = parse(&body).unwrap();
        for at in 0..=body.len() {
            let (a, b) = body.split_at(at);
            assert_eq!(parse_chunks([a, b]).unwrap(), whole, "split at {at}");
        }
    }

    #[test]
    fn same_parts_one_byte_per_chunk() {
        let body = sample();
        let whole = parse(&body).unwrap();
        assert_eq!(parse_chunks(body.chunks(1)).unwrap(), whole);
    }

    #[test]
    fn same_parts_for_random_splits() {
        let body = sample();
        let whole = parse(&body).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let mut cuts: Vec<usize> = (0..rng.random_range(1..12))
                .map(|_| rng.random_range(0..=body.len()))
                .collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for cut in cuts {
                chunks.push(&body[from..cut]);
                from = cut;
            }
            chunks.push(&body[from..]);
            assert_eq!(parse_chunks(chunks.iter().copied()).unwrap(), whole);
        }
    }

    #[test]
    fn errors_are_the_same_for_every_split() {
        let mut truncated = sample();
        truncated.truncate(truncated.len() - 10);
        for at in 0..=truncated.len() {
            let (a, b) = truncated.split_at(at);
            assert_eq!(parse_chunks([a, b]), Err(Error::Truncated), "split at {at}");
        }
    }

    #[test]
    fn missing_final_boundary_is_truncated() {
        let mut body = sample();
        let cut = body.len() - (BOUNDARY.len() + 6);
        body.truncate(cut);
        assert_eq!(parse(&body), Err(Error::Truncated));
        // The last delimiter without its closing `--`.
        let mut body = sample();
        body.truncate(body.len() - 4);
        assert_eq!(parse(&body), Err(Error::Truncated));
    }

    #[test]
    fn wrong_boundary_and_lf_only_are_truncated() {
        let other = sample();
        let mut parser = Parser::new("not-the-boundary", Limits::default());
        parser.feed(&other).unwrap();
        parser.finish();
        assert_eq!(parser.next_part(), Err(Error::Truncated));

        let lf_only: Vec<u8> = String::from_utf8_lossy(&body(&[(
            "Content-Disposition: form-data; name=\"a\"",
            b"1",
        )]))
        .replace("\r\n", "\n")
        .into_bytes();
        assert_eq!(parse(&lf_only), Err(Error::Truncated));
    }

    #[test]
    fn junk_before_first_boundary_is_skipped() {
        let mut body = b"this is a preamble\r\nwith lines\r\n--almost\r\n".to_vec();
        body.extend_from_slice(&sample());
        assert_eq!(parse(&body).unwrap(), parse(&sample()).unwrap());
        // Junk directly followed by the delimiter without a CRLF is still junk.
        let mut glued = b"junk".to_vec();
        glued.extend_from_slice(&sample());
        let parts = parse(&glued).unwrap();
        // The first delimiter is glued to junk, so parsing starts at the second one.
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name.as_deref(), Some("Empty"));
    }

    #[test]
    fn large_preamble_is_not_kept_in_memory() {
        let mut parser = Parser::new(BOUNDARY, Limits::default());
        for _ in 0..1000 {
            parser.feed(&[b'x'; 1000]).unwrap();
            assert_eq!(parser.next_part().unwrap(), Next::NeedMore);
            assert!(parser.buf.len() < 2 * 1000);
        }
    }

    #[test]
    fn folded_headers_and_odd_casing() {
        let body = body(&[(
            "CONTENT-disposition: form-data;\r\n\tNAME=\"folded\";\r\n filename=dump.bin\r\ncontent-TYPE: Application/Octet-Stream",
            b"abc",
        )]);
        let parts = parse(&body).unwrap();
        assert_eq!(parts[0].name.as_deref(), Some("folded"));
        assert_eq!(parts[0].filename.as_deref(), Some("dump.bin"));
        assert_eq!(
            parts[0].media_type().as_deref(),
            Some("application/octet-stream")
        );
    }

    #[test]
    fn header_without_space_after_colon_is_read() {
        let body = body(&[("Content-Disposition:form-data; name=x", b"1")]);
        assert_eq!(parse(&body).unwrap()[0].name.as_deref(), Some("x"));
    }

    #[test]
    fn quoted_parameters_are_unescaped() {
        let body = body(&[(
            r#"Content-Disposition: form-data; name="a \"b\"; c"; filename="C:\dir\f.dmp""#,
            b"1",
        )]);
        let part = &parse(&body).unwrap()[0];
        assert_eq!(part.name.as_deref(), Some("a \"b\"; c"));
        assert_eq!(part.filename.as_deref(), Some(r"C:\dir\f.dmp"));
    }

    #[test]
    fn charset_parameter() {
        let part = Part {
            name: None,
            filename: None,
            content_type: Some("text/plain; format=flowed; CharSet=\"latin-1\"".into()),
            body: Bytes::new(),
        };
        assert_eq!(part.media_type().as_deref(), Some("text/plain"));
        assert_eq!(part.charset().as_deref(), Some("latin-1"));
    }

    #[test]
    fn part_without_headers_and_nameless_part() {
        let raw = format!("--{BOUNDARY}\r\n\r\nvalue\r\n--{BOUNDARY}--");
        let parts = parse(raw.as_bytes()).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name, None);
        assert_eq!(&parts[0].body[..], b"value");
    }

    #[test]
    fn transport_padding_and_epilogue() {
        let raw = format!(
            "--{BOUNDARY} \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--{BOUNDARY}--epilogue\r\n--{BOUNDARY}\r\nignored"
        );
        let parts = parse(raw.as_bytes()).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(&parts[0].body[..], b"1");
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_body: 100,
            max_header_block: 64,
            max_parts: 2,
        };
        let mut parser = Parser::new(BOUNDARY, limits);
        assert_eq!(parser.feed(&[0; 101]), Err(Error::TooLarge { limit: 100 }));

        let long_header = body(&[(&format!("X-Long: {}", "y".repeat(100)), b"1")]);
        let mut parser = Parser::new(
            BOUNDARY,
            Limits {
                max_body: 1 << 20,
                ..limits
            },
        );
        parser.feed(&long_header).unwrap();
        assert_eq!(parser.next_part(), Err(Error::HeaderTooLarge { limit: 64 }));

        let three = body(&[("X: 1", b"a"), ("X: 2", b"b"), ("X: 3", b"c")]);
        let mut parser = Parser::new(
            BOUNDARY,
            Limits {
                max_body: 1 << 20,
                ..limits
            },
        );
        parser.feed(&three).unwrap();
        assert!(matches!(parser.next_part(), Ok(Next::Part(_))));
        assert!(matches!(parser.next_part(), Ok(Next::Part(_))));
        assert_eq!(parser.next_part(), Err(Error::TooManyParts { limit: 2 }));
    }

    #[test]
    fn bad_headers_are_errors() {
        let encoded = body(&[("Content-Transfer-Encoding: base64", b"QUJD")]);
        assert_eq!(
            parse(&encoded),
            Err(Error::UnsupportedTransferEncoding("base64".into()))
        );
        let garbage = body(&[("not a header line", b"1")]);
        assert!(matches!(parse(&garbage), Err(Error::InvalidHeader(_))));
        let mut latin1 =
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"").into_bytes();
        latin1.extend_from_slice(b"\xe9\"\r\n\r\n1\r\n");
        latin1.extend_from_slice(format!("--{BOUNDARY}--").as_bytes());
        assert!(matches!(parse(&latin1), Err(Error::InvalidHeader(_))));
    }

    /// Garbage never panics or hangs the parser: random bytes, random mutations of a valid
    /// body, random chunking. (The `fuzz/` targets do the same, coverage-guided.)
    #[test]
    fn random_input_never_panics() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(99);
        let valid = sample();
        for round in 0..3000 {
            let mut body = if round % 2 == 0 {
                valid.clone()
            } else {
                (0..rng.random_range(0..2000))
                    .map(|_| rng.random::<u8>())
                    .collect()
            };
            for _ in 0..rng.random_range(0..8) {
                if body.is_empty() {
                    break;
                }
                let at = rng.random_range(0..body.len());
                match rng.random_range(0..3) {
                    0 => body[at] = rng.random(),
                    1 => {
                        body.remove(at);
                    }
                    _ => body.insert(at, *b"\r\n-".get(rng.random_range(0..3)).unwrap_or(&0)),
                }
            }
            let chunk = rng.random_range(1..512);
            let _ = parse_chunks(body.chunks(chunk));
        }
    }

    #[test]
    fn owned_buffer_is_not_copied() {
        let body = BytesMut::from(&sample()[..]);
        let range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
        let mut parser = Parser::new(BOUNDARY, Limits::default());
        parser.feed_buffer(body).unwrap();
        parser.finish();
        let Next::Part(_) = parser.next_part().unwrap() else {
            panic!()
        };
        let Next::Part(_) = parser.next_part().unwrap() else {
            panic!()
        };
        let Next::Part(dump) = parser.next_part().unwrap() else {
            panic!()
        };
        assert!(range.contains(&(dump.body.as_ptr() as usize)));
        assert_eq!(parser.next_part().unwrap(), Next::End);
    }

    #[test]
    fn leading_boundaries() {
        assert_eq!(leading_boundary(b"--abc\r\nrest"), Some("abc"));
        assert_eq!(
            leading_boundary(b"--a b' ()+_,-./:=?  \t\r\n"),
            Some("a b' ()+_,-./:=?")
        );
        for not_one in [
            &b"-abc\r\n"[..],
            b"--\r\n",
            b"--abc",
            b"--ab\x00c\r\n",
            b"--ab\"c\r\n",
        ] {
            assert_eq!(leading_boundary(not_one), None, "{not_one:?}");
        }
        let longest = format!("--{}\r\n", "b".repeat(MAX_BOUNDARY_LEN));
        assert!(leading_boundary(longest.as_bytes()).is_some());
        let too_long = format!("--{}\r\n", "b".repeat(MAX_BOUNDARY_LEN + 1));
        assert_eq!(leading_boundary(too_long.as_bytes()), None);
    }
}
