//! Command-line arguments (`--key value`, `--flag`) and the target URL.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};

/// Arguments by name, without the leading `--`; a flag's value is `true`.
pub type Args = HashMap<String, String>;

pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut out = HashMap::new();
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let key = arg
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {arg:?}"))?;
        let value = match iter.peek() {
            Some(next) if !next.starts_with("--") => iter.next().cloned().unwrap_or_default(),
            _ => "true".to_owned(),
        };
        out.insert(key.to_owned(), value);
    }
    Ok(out)
}

pub fn get<T: std::str::FromStr>(args: &Args, key: &str, default: T) -> Result<T, String> {
    match args.get(key) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("--{key}: cannot use {text:?}")),
    }
}

pub fn required<'a>(args: &'a Args, key: &str) -> Result<&'a str, String> {
    args.get(key)
        .map(String::as_str)
        .ok_or_else(|| format!("--{key} is required"))
}

pub fn parse_url(url: &str, allow_remote: bool) -> Result<(SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs (put TLS in front with nginx, not here)")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], rest[at..].to_owned()),
        None => (rest, "/submit".to_owned()),
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(format!(
            "{addr} is not loopback; pass --allow-remote to load it"
        ));
    }
    Ok((addr, path))
}
