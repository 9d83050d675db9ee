//! Reading the environment: the [`Env`] source, and a [`Reader`] that validates each
//! variable and records what it read, so the start-up listing is derived from the reading
//! itself (secrets masked) and never names a variable a second time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use super::ConfigError;
use crate::secret::Secret;

/// The process environment, or a map in tests.
pub trait Env {
    /// The variable's value; unset and empty are the same.
    fn get(&self, name: &str) -> Option<String>;
}

/// Reads `std::env`.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

/// A setting that cannot be used: `var` holds `value`, and `reason` says what was expected.
pub fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// What a masked value is shown as.
pub const MASK: &str = "*****";

/// Reads variables from an [`Env`], recording each one's effective value in reading order.
pub struct Reader<'a, E: Env> {
    env: &'a E,
    read: RefCell<Vec<(&'static str, String)>>,
}

impl<'a, E: Env> Reader<'a, E> {
    /// A reader of `env` that has read nothing yet.
    pub fn new(env: &'a E) -> Reader<'a, E> {
        Reader {
            env,
            read: RefCell::new(Vec::new()),
        }
    }

    /// Every variable read, with the value in effect (secrets masked), in reading order.
    pub fn into_listing(self) -> Vec<(&'static str, String)> {
        self.read.into_inner()
    }

    /// Records `var`'s value in effect (replacing an earlier record of the same variable).
    pub fn record(&self, var: &'static str, shown: impl Into<String>) {
        let shown = shown.into();
        let mut read = self.read.borrow_mut();
        match read.iter_mut().find(|(name, _)| *name == var) {
            Some(entry) => entry.1 = shown,
            None => read.push((var, shown)),
        }
    }

    fn raw(&self, var: &str) -> Option<String> {
        self.env.get(var).map(|v| v.trim().to_owned())
    }

    /// The value, if set.
    pub fn text(&self, var: &'static str) -> Option<String> {
        let value = self.raw(var);
        self.record(var, value.clone().unwrap_or_default());
        value
    }

    /// The value, or `default` when unset.
    pub fn text_or(&self, var: &'static str, default: &str) -> String {
        self.text_or_else(var, || default.to_owned())
    }

    /// The value, or what `default` works out when unset.
    pub fn text_or_else(&self, var: &'static str, default: impl FnOnce() -> String) -> String {
        let value = self.raw(var).unwrap_or_else(default);
        self.record(var, value.clone());
        value
    }

    /// A value shown only through `show` (a URL with a password, say), or `default`.
    pub fn text_shown_as(
        &self,
        var: &'static str,
        default: &str,
        show: impl FnOnce(&str) -> String,
    ) -> String {
        let value = self.raw(var).unwrap_or_else(|| default.to_owned());
        self.record(var, show(&value));
        value
    }

    /// A secret, if set; listed masked.
    pub fn secret(&self, var: &'static str) -> Option<Secret> {
        let value = self.raw(var);
        self.record(var, if value.is_some() { MASK } else { "" });
        value.map(Secret::new)
    }

    /// A setting that must be set because another one (`because`) asks for it.
    pub fn required(&self, var: &'static str, because: &str) -> Result<String, ConfigError> {
        self.text(var)
            .ok_or_else(|| invalid(var, "", format!("required when {because}")))
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`), or `default`.
    pub fn flag(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        let flag = match self.raw(var) {
            None => default,
            Some(value) => match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return Err(invalid(var, &value, "expected true or false")),
            },
        };
        self.record(var, flag.to_string());
        Ok(flag)
    }

    /// A whole number in `min..=max` from the first of `vars` that is set (aliases), or
    /// `default`; listed under the first name.
    pub fn number<T>(
        &self,
        vars: &[&'static str],
        default: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let mut number = default;
        if let Some((var, value)) = vars.iter().find_map(|&var| Some((var, self.raw(var)?))) {
            number = match value.parse::<T>() {
                Ok(n) if n >= min && n <= max => n,
                _ => {
                    return Err(invalid(
                        var,
                        &value,
                        format!("expected a whole number from {min} to {max}"),
                    ))
                }
            };
        }
        if let Some(&first) = vars.first() {
            self.record(first, number.to_string());
        }
        Ok(number)
    }

    /// Seconds from `min` to a day, or `default`.
    pub fn seconds(
        &self,
        var: &'static str,
        default: f64,
        min: f64,
    ) -> Result<Duration, ConfigError> {
        let duration = match self.raw(var) {
            None => Duration::from_secs_f64(default),
            Some(value) => match value.parse::<f64>() {
                Ok(secs) if secs.is_finite() && secs >= min && secs <= 86_400.0 => {
                    Duration::from_secs_f64(secs)
                }
                _ => {
                    return Err(invalid(
                        var,
                        &value,
                        format!("expected seconds from {min} to 86400"),
                    ))
                }
            },
        };
        self.record(var, duration.as_secs_f64().to_string());
        Ok(duration)
    }

    /// A size (see [`parse_size`]) in `min..=max`, or `default`; `expected` says what was
    /// wanted when the value is unusable.
    pub fn size(
        &self,
        var: &'static str,
        default: usize,
        (min, max): (usize, usize),
        expected: &str,
    ) -> Result<usize, ConfigError> {
        let size = match self.raw(var) {
            None => default,
            Some(text) => parse_size(&text)
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| invalid(var, &text, expected))?,
        };
        self.record(var, size.to_string());
        Ok(size)
    }
}

/// Parses `26214400`, `512KiB`, `25MiB`, `1GiB` (binary units; `KB`/`MB` read as the same).
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: usize = digits.parse().ok()?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(multiplier)
}
