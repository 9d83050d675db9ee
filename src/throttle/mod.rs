//! The throttler: an ordered rule list that decides, from a crash's annotations alone,
//! whether it is kept (ACCEPT, DEFER), dropped (REJECT) or answered but dropped (FAKEACCEPT).
//!
//! Pure: the date and the random source are passed in, so tests are deterministic and the
//! rules can be evaluated in benches without a clock. Rule semantics follow Antenna's
//! `antenna/throttler.py`: the first rule that matches *and* does not say CONTINUE decides;
//! a sampled rule draws `r = random() * 100` and takes its first result when `r <= percent`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use rand::Rng;
use serde_json::{Map, Value};

use crate::timestamp::Date;

pub mod file;
mod mozilla;

pub use file::{RuleFile, RuleFileError};
pub use mozilla::MOZILLA_PRODUCTS;

/// What a rule (or the whole throttler) says about a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Save, publish, process.
    Accept,
    /// Save, do not process (the crash id says so).
    Defer,
    /// Drop; answer `Discarded=rule_<name>`.
    Reject,
    /// Drop, but answer as if accepted (clients that would otherwise retry forever).
    FakeAccept,
    /// Only inside sampled rules: go on to the next rule.
    Continue,
}

impl Outcome {
    /// Lowercase name, as the `throttle` metric's `result` tag carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accept => "accept",
            Outcome::Defer => "defer",
            Outcome::Reject => "reject",
            Outcome::FakeAccept => "fakeaccept",
            Outcome::Continue => "continue",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_ascii_uppercase())
    }
}

/// A rule's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleResult {
    /// Always this outcome.
    Fixed(Outcome),
    /// `matched` when `random() * 100 <= percent`, else `otherwise`.
    Sampled {
        /// 0..=100.
        percent: f64,
        /// Result for the sampled-in share.
        matched: Outcome,
        /// Result for the rest.
        otherwise: Outcome,
    },
}

/// What a rule's condition sees besides the annotations.
#[derive(Debug)]
pub struct Context<'a> {
    /// Today, for BuildID age.
    pub today: Date,
    products: &'a [String],
    package_names: &'a HashMap<String, Vec<String>>,
}

/// When a rule applies.
enum Condition {
    /// A built-in test (Mozilla's rules).
    Builtin(fn(&Map<String, Value>, &Context<'_>) -> bool),
    /// Every test of a rule file's `when` list holds (none: always).
    All(Vec<file::Test>),
}

impl Condition {
    fn holds(&self, annotations: &Map<String, Value>, context: &Context<'_>) -> bool {
        match self {
            Condition::Builtin(test) => test(annotations, context),
            Condition::All(tests) => tests.iter().all(|test| test.holds(annotations)),
        }
    }
}

/// One named rule.
pub struct Rule {
    name: Cow<'static, str>,
    condition: Condition,
    result: RuleResult,
}

impl Rule {
    /// A built-in rule.
    const fn builtin(
        name: &'static str,
        condition: fn(&Map<String, Value>, &Context<'_>) -> bool,
        result: RuleResult,
    ) -> Rule {
        Rule {
            name: Cow::Borrowed(name),
            condition: Condition::Builtin(condition),
            result,
        }
    }
}

const fn fixed(outcome: Outcome) -> RuleResult {
    RuleResult::Fixed(outcome)
}

fn always(_: &Map<String, Value>, _: &Context<'_>) -> bool {
    true
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("result", &self.result)
            .finish()
    }
}

/// The verdict: outcome (never CONTINUE) and the rule that decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict<'t> {
    /// ACCEPT, DEFER, REJECT or FAKEACCEPT.
    pub outcome: Outcome,
    /// The deciding rule (borrowed from the throttler), or `NO_MATCH`.
    pub rule: &'t str,
}

/// The rule set (`BREAKPAD_THROTTLER_RULES`).
#[derive(Debug, Clone)]
pub enum RuleSet {
    /// Mozilla's production rules (SPEC §3).
    Mozilla,
    /// One rule, `accept_everything`.
    AcceptAll,
    /// An operator's rule file (see [`file`]).
    File(RuleFile),
}

impl RuleSet {
    /// Parses a setting value: a built-in set's name (Antenna's dotted names are aliases) or
    /// the path of a `.toml` rule file, which is read and checked now.
    pub fn parse(text: &str) -> Result<RuleSet, RuleFileError> {
        match text.trim() {
            "mozilla" | "antenna.throttler.MOZILLA_RULES" => Ok(RuleSet::Mozilla),
            "accept_all" | "antenna.throttler.ACCEPT_ALL" => Ok(RuleSet::AcceptAll),
            path if path.ends_with(".toml") => RuleFile::load(path.as_ref()).map(RuleSet::File),
            _ => Err(RuleFileError::UnknownSet),
        }
    }

    fn rules(&self) -> &[Rule] {
        match self {
            RuleSet::Mozilla => &mozilla::MOZILLA_RULES,
            RuleSet::AcceptAll => &ACCEPT_ALL_RULES,
            RuleSet::File(file) => file.rules(),
        }
    }
}

/// Sets are the same when they are the same built-in set or read from the same file.
impl PartialEq for RuleSet {
    fn eq(&self, other: &RuleSet) -> bool {
        match (self, other) {
            (RuleSet::Mozilla, RuleSet::Mozilla) | (RuleSet::AcceptAll, RuleSet::AcceptAll) => true,
            (RuleSet::File(a), RuleSet::File(b)) => a.path == b.path,
            _ => false,
        }
    }
}

/// An annotation as text, the way Antenna's rules see it (Python `str()` of the value).
pub(crate) fn text<'a>(annotations: &'a Map<String, Value>, key: &str) -> Option<Cow<'a, str>> {
    Some(match annotations.get(key)? {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        Value::Null => Cow::Borrowed("None"),
        Value::Bool(true) => Cow::Borrowed("True"),
        Value::Bool(false) => Cow::Borrowed("False"),
        other => Cow::Owned(other.to_string()),
    })
}

static ACCEPT_ALL_RULES: [Rule; 1] = [Rule::builtin(
    "accept_everything",
    always,
    fixed(Outcome::Accept),
)];

/// A configured throttler.
#[derive(Debug)]
pub struct Throttler {
    rules: RuleSet,
    products: Vec<String>,
    package_names: HashMap<String, Vec<String>>,
}

impl Throttler {
    /// A throttler with `rule_set` and the supported `products` (empty = every product).
    pub fn new(rule_set: &RuleSet, products: Vec<String>) -> Throttler {
        let package_names = mozilla::MOZILLA_PACKAGE_NAMES
            .iter()
            .map(|(product, names)| {
                let names = names.iter().map(|name| name.to_string()).collect();
                (product.to_string(), names)
            })
            .collect();
        Throttler {
            rules: rule_set.clone(),
            products,
            package_names,
        }
    }

    /// Runs the rules over `annotations`.
    pub fn throttle(
        &self,
        annotations: &Map<String, Value>,
        today: Date,
        rng: &mut impl Rng,
    ) -> Verdict<'_> {
        let context = Context {
            today,
            products: &self.products,
            package_names: &self.package_names,
        };
        for rule in self.rules.rules() {
            if !rule.condition.holds(annotations, &context) {
                continue;
            }
            let outcome = match rule.result {
                RuleResult::Fixed(outcome) => outcome,
                RuleResult::Sampled {
                    percent,
                    matched,
                    otherwise,
                } => {
                    if rng.random::<f64>() * 100.0 <= percent {
                        matched
                    } else {
                        otherwise
                    }
                }
            };
            if outcome != Outcome::Continue {
                return Verdict {
                    outcome,
                    rule: &rule.name,
                };
            }
        }
        Verdict {
            outcome: Outcome::Reject,
            rule: "NO_MATCH",
        }
    }
}

/// A random source stuck at one value, for deterministic sampling in tests: 0 draws 0.0
/// (sampled in), `u64::MAX` draws just under 1.0 (sampled out).
#[cfg(test)]
pub(crate) struct Stuck(pub u64);

#[cfg(test)]
impl rand::RngCore for Stuck {
    fn next_u32(&mut self) -> u32 {
        (self.0 >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        dst.fill(self.0 as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: u64 = u64::MAX;

    fn today() -> Date {
        Date::new(2026, 11, 27).unwrap()
    }

    #[test]
    fn accept_all_accepts_everything() {
        let throttler = Throttler::new(&RuleSet::AcceptAll, Vec::new());
        let v = throttler.throttle(&Map::new(), today(), &mut Stuck(OUT));
        assert_eq!((v.outcome, v.rule), (Outcome::Accept, "accept_everything"));
    }

    #[test]
    fn rule_set_names() {
        assert_eq!(
            RuleSet::parse("antenna.throttler.ACCEPT_ALL").unwrap(),
            RuleSet::AcceptAll
        );
        assert_eq!(RuleSet::parse("mozilla").unwrap(), RuleSet::Mozilla);
        assert!(RuleSet::parse("nope").is_err());
        assert!(RuleSet::parse("/no/such/rules.toml")
            .unwrap_err()
            .to_string()
            .contains("/no/such/rules.toml"));
    }
}
