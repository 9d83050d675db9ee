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

pub use file::RuleFile;

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
    name: &'static str,
    condition: Condition,
    result: RuleResult,
}

impl Rule {
    /// A rule read from a rule file.
    fn from_file(name: &'static str, tests: Vec<file::Test>, result: RuleResult) -> Rule {
        Rule {
            name,
            condition: Condition::All(tests),
            result,
        }
    }
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
pub struct Verdict {
    /// ACCEPT, DEFER, REJECT or FAKEACCEPT.
    pub outcome: Outcome,
    /// The deciding rule, or `NO_MATCH`.
    pub rule: &'static str,
}

/// The rule set (`BREAKPAD_THROTTLER_RULES`).
#[derive(Debug, Clone, PartialEq)]
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
    pub fn parse(text: &str) -> Result<RuleSet, String> {
        match text.trim() {
            "mozilla" | "antenna.throttler.MOZILLA_RULES" => Ok(RuleSet::Mozilla),
            "accept_all" | "antenna.throttler.ACCEPT_ALL" => Ok(RuleSet::AcceptAll),
            path if path.ends_with(".toml") => RuleFile::load(path.as_ref()).map(RuleSet::File),
            _ => Err("expected mozilla, accept_all or the path of a .toml rule file".into()),
        }
    }

    /// The setting value naming this set.
    pub fn describe(&self) -> String {
        match self {
            RuleSet::Mozilla => "mozilla".into(),
            RuleSet::AcceptAll => "accept_all".into(),
            RuleSet::File(file) => file.path.display().to_string(),
        }
    }
}

/// Mozilla's supported products (`BREAKPAD_THROTTLER_PRODUCTS` default).
pub const MOZILLA_PRODUCTS: &[&str] = &[
    "Fenix",
    "Firefox",
    "Firefox Enterprise",
    "Focus",
    "MozillaVPN",
    "ReferenceBrowser",
    "Thunderbird",
];

/// Android package names accepted per product.
const MOZILLA_PACKAGE_NAMES: &[(&str, &[&str])] = &[
    (
        "Fenix",
        &[
            "org.mozilla.firefox",
            "org.mozilla.firefox_beta",
            "org.mozilla.fenix",
        ],
    ),
    (
        "Focus",
        &[
            "org.mozilla.focus",
            "org.mozilla.focus.beta",
            "org.mozilla.focus.nightly",
            "org.mozilla.klar",
        ],
    ),
    ("ReferenceBrowser", &["org.mozilla.reference.browser"]),
];

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

fn is(annotations: &Map<String, Value>, key: &str, expected: &str) -> bool {
    text(annotations, key).is_some_and(|value| value == expected)
}

fn has_old_buildid(a: &Map<String, Value>, ctx: &Context<'_>) -> bool {
    let Some(build_id) = text(a, "BuildID") else {
        return false;
    };
    let bytes = build_id.as_bytes();
    if bytes.len() != 14 || !bytes.starts_with(b"20") || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = |range: std::ops::Range<usize>| build_id[range].parse::<u32>().unwrap_or(0);
    let Some(built) = Date::new(i64::from(number(0..4)), number(4..6), number(6..8)) else {
        return false;
    };
    ctx.today.days_since_epoch() - built.days_since_epoch() > 730
}

fn has_hangid_and_browser(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    a.contains_key("HangID")
        && text(a, "ProcessType").is_none_or(|process_type| process_type == "browser")
}

fn infobar_is_true(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    let (Some(product), Some(infobar), Some(version), Some(build_id)) = (
        text(a, "ProductName"),
        text(a, "SubmittedFromInfobar"),
        text(a, "Version"),
        text(a, "BuildID"),
    ) else {
        return false;
    };
    product == "Firefox"
        && infobar == "true"
        && (52..=59).any(|major| version.starts_with(&format!("{major}.")))
        && !build_id.is_empty()
        && *build_id < *"20171226"
}

fn b2g(a: &Map<String, Value>, ctx: &Context<'_>) -> bool {
    !ctx.products.iter().any(|p| p == "B2G")
        && text(a, "ProductName").is_some_and(|name| name.to_lowercase() == "b2g")
}

fn unsupported_product(a: &Map<String, Value>, ctx: &Context<'_>) -> bool {
    let product = text(a, "ProductName").unwrap_or_default();
    !ctx.products.is_empty() && !ctx.products.iter().any(|p| *p == *product)
}

fn unsupported_packagename(a: &Map<String, Value>, ctx: &Context<'_>) -> bool {
    let product = text(a, "ProductName").unwrap_or_default();
    let Some(allowed) = ctx.package_names.get(product.as_ref()) else {
        return false;
    };
    let package = text(a, "Android_PackageName").unwrap_or(Cow::Borrowed("None"));
    !allowed.is_empty() && !allowed.iter().any(|p| *p == *package)
}

fn throttleable_0(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    is(a, "Throttleable", "0")
}

fn has_comments(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    a.contains_key("Comments")
}

fn has_phc(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    a.contains_key("PHCKind")
}

fn is_background(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    text(a, "ProcessType").is_some_and(|process_type| {
        ["gpu", "plugin", "rdd", "socket", "utility"].contains(&process_type.as_ref())
    })
}

fn is_shutdownkill(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    is(a, "ipc_channel_error", "ShutDownKill")
}

fn is_firefox_esr_unsupported_windows(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    if !is(a, "ProductName", "Firefox") || !is(a, "ReleaseChannel", "esr") {
        return false;
    }
    let parsed;
    let environment = match a.get("TelemetryEnvironment") {
        Some(Value::String(json)) => match serde_json::from_str::<Value>(json) {
            Ok(value) => {
                parsed = value;
                &parsed
            }
            Err(_) => return false,
        },
        Some(value) => value,
        None => return false,
    };
    let os = &environment["system"]["os"];
    os["name"] == "Windows_NT" && os["windowsBuildNumber"].as_i64().is_some_and(|b| b <= 9600)
}

fn is_alpha_beta_esr(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    text(a, "ReleaseChannel")
        .is_some_and(|channel| ["aurora", "beta", "esr"].contains(&channel.as_ref()))
}

fn is_nightly(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    text(a, "ReleaseChannel").is_some_and(|channel| channel.starts_with("nightly"))
}

fn is_firefox_desktop(a: &Map<String, Value>, _: &Context<'_>) -> bool {
    is(a, "ProductName", "Firefox") && is(a, "ReleaseChannel", "release")
}

fn always(_: &Map<String, Value>, _: &Context<'_>) -> bool {
    true
}

const fn rule(
    name: &'static str,
    condition: fn(&Map<String, Value>, &Context<'_>) -> bool,
    result: RuleResult,
) -> Rule {
    Rule {
        name,
        condition: Condition::Builtin(condition),
        result,
    }
}

const fn fixed(outcome: Outcome) -> RuleResult {
    RuleResult::Fixed(outcome)
}

const fn sampled(percent: f64, matched: Outcome, otherwise: Outcome) -> RuleResult {
    RuleResult::Sampled {
        percent,
        matched,
        otherwise,
    }
}

/// Mozilla's rules, in order (SPEC §3).
static MOZILLA_RULES: [Rule; 16] = {
    use Outcome::*;
    [
        rule("has_old_buildid", has_old_buildid, fixed(Reject)),
        rule(
            "has_hangid_and_browser",
            has_hangid_and_browser,
            fixed(Reject),
        ),
        rule("infobar_is_true", infobar_is_true, fixed(Reject)),
        rule("b2g", b2g, fixed(FakeAccept)),
        rule("unsupported_product", unsupported_product, fixed(Reject)),
        rule(
            "unsupported_packagename",
            unsupported_packagename,
            fixed(Reject),
        ),
        rule("throttleable_0", throttleable_0, fixed(Accept)),
        rule("has_comments", has_comments, fixed(Accept)),
        rule("has_phc", has_phc, fixed(Accept)),
        rule("is_background", is_background, fixed(Accept)),
        rule(
            "is_shutdownkill",
            is_shutdownkill,
            sampled(10.0, Continue, Reject),
        ),
        rule(
            "is_firefox_esr_unsupported_windows",
            is_firefox_esr_unsupported_windows,
            sampled(25.0, Continue, Reject),
        ),
        rule("is_alpha_beta_esr", is_alpha_beta_esr, fixed(Accept)),
        rule("is_nightly", is_nightly, fixed(Accept)),
        rule(
            "is_firefox_desktop",
            is_firefox_desktop,
            sampled(10.0, Accept, Reject),
        ),
        rule("accept_everything", always, fixed(Accept)),
    ]
};

static ACCEPT_ALL_RULES: [Rule; 1] = [rule("accept_everything", always, fixed(Outcome::Accept))];

/// A configured throttler.
#[derive(Debug)]
pub struct Throttler {
    rules: &'static [Rule],
    products: Vec<String>,
    package_names: HashMap<String, Vec<String>>,
}

impl Throttler {
    /// A throttler with `rule_set` and the supported `products` (empty = every product).
    pub fn new(rule_set: &RuleSet, products: Vec<String>) -> Throttler {
        let rules: &'static [Rule] = match rule_set {
            RuleSet::Mozilla => &MOZILLA_RULES,
            RuleSet::AcceptAll => &ACCEPT_ALL_RULES,
            RuleSet::File(file) => file.rules(),
        };
        let package_names = MOZILLA_PACKAGE_NAMES
            .iter()
            .map(|(product, names)| {
                let names = names.iter().map(|name| name.to_string()).collect();
                (product.to_string(), names)
            })
            .collect();
        Throttler {
            rules,
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
    ) -> Verdict {
        let context = Context {
            today,
            products: &self.products,
            package_names: &self.package_names,
        };
        for rule in self.rules {
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
                    rule: rule.name,
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
    use serde_json::json;

    const IN: u64 = 0;
    const OUT: u64 = u64::MAX;

    fn today() -> Date {
        Date::new(2026, 11, 27).unwrap()
    }

    fn verdict(annotations: Value, draw: u64) -> (Outcome, &'static str) {
        let throttler = Throttler::new(
            &RuleSet::Mozilla,
            MOZILLA_PRODUCTS.iter().map(|p| p.to_string()).collect(),
        );
        let Value::Object(map) = annotations else {
            panic!("not an object")
        };
        let v = throttler.throttle(&map, today(), &mut Stuck(draw));
        (v.outcome, v.rule)
    }

    #[test]
    fn mozilla_rules_table() {
        use Outcome::*;
        let env = |build: u32| {
            json!({"system": {"os": {"name": "Windows_NT", "windowsBuildNumber": build}}})
                .to_string()
        };
        let cases: Vec<(Value, u64, (Outcome, &str))> = vec![
            (
                json!({"ProductName": "Firefox", "BuildID": "20200101000000"}),
                IN,
                (Reject, "has_old_buildid"),
            ),
            (
                json!({"ProductName": "Firefox", "BuildID": "20261101000000", "Comments": "x"}),
                IN,
                (Accept, "has_comments"),
            ),
            (
                json!({"ProductName": "Firefox", "BuildID": "20241127000000", "Comments": "x"}),
                IN,
                (Accept, "has_comments"),
            ),
            (
                json!({"ProductName": "Firefox", "BuildID": "20241126000000", "Comments": "x"}),
                IN,
                (Reject, "has_old_buildid"),
            ),
            (
                json!({"ProductName": "Firefox", "HangID": "x"}),
                IN,
                (Reject, "has_hangid_and_browser"),
            ),
            (
                json!({"ProductName": "Firefox", "HangID": "x", "ProcessType": "content"}),
                IN,
                (Accept, "accept_everything"),
            ),
            (
                json!({"ProductName": "Firefox", "SubmittedFromInfobar": "true", "Version": "55.0", "BuildID": "20170101"}),
                IN,
                (Reject, "infobar_is_true"),
            ),
            (
                json!({"ProductName": "Firefox", "SubmittedFromInfobar": "true", "Version": "60.0", "BuildID": "20170101"}),
                IN,
                (Accept, "accept_everything"),
            ),
            (json!({"ProductName": "B2G"}), IN, (FakeAccept, "b2g")),
            (
                json!({"ProductName": "Netscape"}),
                IN,
                (Reject, "unsupported_product"),
            ),
            (json!({}), IN, (Reject, "unsupported_product")),
            (
                json!({"ProductName": "Fenix", "Android_PackageName": "com.example"}),
                IN,
                (Reject, "unsupported_packagename"),
            ),
            (
                json!({"ProductName": "Fenix"}),
                IN,
                (Reject, "unsupported_packagename"),
            ),
            (
                json!({"ProductName": "Fenix", "Android_PackageName": "org.mozilla.fenix"}),
                IN,
                (Accept, "accept_everything"),
            ),
            (
                json!({"ProductName": "Firefox", "Throttleable": "0", "ReleaseChannel": "release"}),
                OUT,
                (Accept, "throttleable_0"),
            ),
            (
                json!({"ProductName": "Firefox", "Throttleable": 0, "ReleaseChannel": "release"}),
                OUT,
                (Accept, "throttleable_0"),
            ),
            (
                json!({"ProductName": "Firefox", "PHCKind": "x"}),
                OUT,
                (Accept, "has_phc"),
            ),
            (
                json!({"ProductName": "Firefox", "ProcessType": "rdd"}),
                OUT,
                (Accept, "is_background"),
            ),
            (
                json!({"ProductName": "Firefox", "ipc_channel_error": "ShutDownKill"}),
                OUT,
                (Reject, "is_shutdownkill"),
            ),
            (
                json!({"ProductName": "Firefox", "ipc_channel_error": "ShutDownKill", "ReleaseChannel": "nightly"}),
                IN,
                (Accept, "is_nightly"),
            ),
            (
                json!({"ProductName": "Firefox", "ReleaseChannel": "esr", "TelemetryEnvironment": env(9600)}),
                OUT,
                (Reject, "is_firefox_esr_unsupported_windows"),
            ),
            (
                json!({"ProductName": "Firefox", "ReleaseChannel": "esr", "TelemetryEnvironment": env(9600)}),
                IN,
                (Accept, "is_alpha_beta_esr"),
            ),
            (
                json!({"ProductName": "Firefox", "ReleaseChannel": "esr", "TelemetryEnvironment": env(9601)}),
                OUT,
                (Accept, "is_alpha_beta_esr"),
            ),
            (
                json!({"ProductName": "Firefox", "ReleaseChannel": "beta"}),
                OUT,
                (Accept, "is_alpha_beta_esr"),
            ),
            (
                json!({"ProductName": "Firefox", "ReleaseChannel": "nightly-try"}),
                OUT,
                (Accept, "is_nightly"),
            ),
            (
                json!({"ProductName": "Firefox", "ReleaseChannel": "release"}),
                IN,
                (Accept, "is_firefox_desktop"),
            ),
            (
                json!({"ProductName": "Firefox", "ReleaseChannel": "release"}),
                OUT,
                (Reject, "is_firefox_desktop"),
            ),
            (
                json!({"ProductName": "Thunderbird", "ReleaseChannel": "release"}),
                OUT,
                (Accept, "accept_everything"),
            ),
        ];
        for (annotations, draw, expected) in cases {
            assert_eq!(
                verdict(annotations.clone(), draw),
                expected,
                "{annotations}"
            );
        }
    }

    #[test]
    fn empty_product_list_supports_every_product() {
        let throttler = Throttler::new(&RuleSet::Mozilla, Vec::new());
        let Value::Object(map) = json!({"ProductName": "Netscape"}) else {
            unreachable!()
        };
        let v = throttler.throttle(&map, today(), &mut Stuck(IN));
        assert_eq!((v.outcome, v.rule), (Outcome::Accept, "accept_everything"));
    }

    #[test]
    fn accept_all_accepts_everything() {
        let throttler = Throttler::new(&RuleSet::AcceptAll, Vec::new());
        let v = throttler.throttle(&Map::new(), today(), &mut Stuck(OUT));
        assert_eq!((v.outcome, v.rule), (Outcome::Accept, "accept_everything"));
    }

    #[test]
    fn sampling_rate_is_close_to_the_percentage() {
        use rand::SeedableRng;
        let throttler = Throttler::new(&RuleSet::Mozilla, Vec::new());
        let Value::Object(map) = json!({"ProductName": "Firefox", "ReleaseChannel": "release"})
        else {
            unreachable!()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let accepted = (0..10_000)
            .filter(|_| throttler.throttle(&map, today(), &mut rng).outcome == Outcome::Accept)
            .count();
        assert!((800..1200).contains(&accepted), "{accepted}");
    }

    #[test]
    fn rule_set_names() {
        assert_eq!(
            RuleSet::parse("antenna.throttler.ACCEPT_ALL"),
            Ok(RuleSet::AcceptAll)
        );
        assert_eq!(RuleSet::parse("mozilla"), Ok(RuleSet::Mozilla));
        assert!(RuleSet::parse("nope").is_err());
        assert!(RuleSet::parse("/no/such/rules.toml")
            .unwrap_err()
            .contains("/no/such/rules.toml"));
    }
}
