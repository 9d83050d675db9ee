//! The multipart parser on arbitrary bytes: it must never panic or hang, keep within its
//! limits, and find the same parts however the input is chunked.
#![no_main]

use antenna::multipart::{Error, Limits, Next, Parser, Part};
use libfuzzer_sys::fuzz_target;

const BOUNDARY: &str = "fuzzboundary";

fn parse(chunks: &[&[u8]]) -> Result<Vec<Part>, Error> {
    let limits = Limits {
        max_body: 1 << 20,
        max_header_block: 1024,
        max_parts: 64,
    };
    let mut parser = Parser::new(BOUNDARY, limits);
    let mut parts = Vec::new();
    for chunk in chunks {
        parser.feed(chunk)?;
        loop {
            match parser.next_part()? {
                Next::Part(part) => parts.push(part),
                Next::NeedMore => break,
                Next::End => return Ok(parts),
            }
        }
    }
    parser.finish();
    loop {
        match parser.next_part()? {
            Next::Part(part) => parts.push(part),
            Next::NeedMore | Next::End => return Ok(parts),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else { return };
    let whole = parse(&[body]);
    let chunk = usize::from(split).max(1);
    let pieces: Vec<&[u8]> = body.chunks(chunk).collect();
    let chunked = parse(&pieces);
    assert_eq!(whole, chunked, "chunking changed the result");
    if let Ok(parts) = whole {
        assert!(parts.len() <= 64);
    }
});
