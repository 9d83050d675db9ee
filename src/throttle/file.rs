//! Operator rule files: a throttle rule list in TOML, chosen with
//! `BREAKPAD_THROTTLER_RULES=/etc/antenna/rules.toml`, read and checked once at start-up.
//!
//! ```toml
//! [[rule]]
//! name = "has_comments"                 # [A-Za-z0-9_]+, reported as metadata.throttle_rule
//! when = [{ key = "Comments", present = true }]
//! result = "ACCEPT"                     # ACCEPT, DEFER, REJECT, FAKEACCEPT
//!
//! [[rule]]
//! name = "is_firefox_desktop"
//! when = [
//!   { key = "ProductName", equals = "Firefox" },
//!   { key = "ReleaseChannel", one_of = ["release"] },
//! ]
//! sample = 10                           # percent: `result` when random*100 <= sample,
//! result = "ACCEPT"                     # `otherwise` else; either may be CONTINUE
//! otherwise = "REJECT"                  # (go on to the next rule)
//!
//! [[rule]]
//! name = "accept_everything"            # no `when`: always applies
//! result = "ACCEPT"
//! ```
//!
//! Every test of `when` must hold; each names one annotation `key` and one of `equals`,
//! `one_of`, `starts_with` or `present`. Values are compared as text, the way Antenna's
//! rules see them. As with the built-in sets, no rule deciding means REJECT by `NO_MATCH`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{text, Outcome, Rule, RuleResult};

/// A parsed, checked rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// Where it was read from.
    pub path: PathBuf,
    rules: Vec<FileRule>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    rule: Vec<FileRule>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    name: String,
    #[serde(default)]
    when: Vec<Test>,
    result: String,
    sample: Option<f64>,
    otherwise: Option<String>,
}

/// One test of a rule's `when` list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Test {
    key: String,
    equals: Option<String>,
    one_of: Option<Vec<String>>,
    starts_with: Option<String>,
    present: Option<bool>,
}

impl Test {
    /// Whether the annotations pass this test.
    pub(super) fn holds(&self, annotations: &Map<String, Value>) -> bool {
        let value = text(annotations, &self.key);
        if let Some(present) = self.present {
            return value.is_some() == present;
        }
        let Some(value) = value else { return false };
        if let Some(expected) = &self.equals {
            return *value == **expected;
        }
        if let Some(choices) = &self.one_of {
            return choices.iter().any(|choice| *choice == *value);
        }
        if let Some(prefix) = &self.starts_with {
            return value.starts_with(prefix.as_str());
        }
        false
    }

    fn check(&self) -> Result<(), String> {
        let kinds = [
            self.equals.is_some(),
            self.one_of.is_some(),
            self.starts_with.is_some(),
            self.present.is_some(),
        ];
        match kinds.iter().filter(|set| **set).count() {
            1 => Ok(()),
            _ => Err(format!(
                "a test of {:?} needs exactly one of equals, one_of, starts_with, present",
                self.key
            )),
        }
    }
}

fn outcome(text: &str, allow_continue: bool) -> Result<Outcome, String> {
    match text.to_ascii_uppercase().as_str() {
        "ACCEPT" => Ok(Outcome::Accept),
        "DEFER" => Ok(Outcome::Defer),
        "REJECT" => Ok(Outcome::Reject),
        "FAKEACCEPT" => Ok(Outcome::FakeAccept),
        "CONTINUE" if allow_continue => Ok(Outcome::Continue),
        _ => Err(format!("unknown result {text:?}")),
    }
}

impl FileRule {
    fn result(&self) -> Result<RuleResult, String> {
        match (self.sample, &self.otherwise) {
            (None, None) => Ok(RuleResult::Fixed(outcome(&self.result, false)?)),
            (Some(percent), Some(otherwise)) if (0.0..=100.0).contains(&percent) => {
                Ok(RuleResult::Sampled {
                    percent,
                    matched: outcome(&self.result, true)?,
                    otherwise: outcome(otherwise, true)?,
                })
            }
            (Some(percent), Some(_)) => Err(format!("sample {percent} is not 0 to 100")),
            _ => Err("sample and otherwise go together".into()),
        }
    }

    fn check(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(format!("rule name {:?} is not [A-Za-z0-9_]+", self.name));
        }
        self.when.iter().try_for_each(Test::check)?;
        self.result().map(|_| ())
    }
}

impl RuleFile {
    /// Reads and checks `path`; the error names the rule at fault.
    pub fn load(path: &Path) -> Result<RuleFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        RuleFile::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<RuleFile, String> {
        let document: Document =
            toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
        if document.rule.is_empty() {
            return Err(format!("{}: no [[rule]]", path.display()));
        }
        for rule in &document.rule {
            rule.check()
                .map_err(|e| format!("{}: rule {:?}: {e}", path.display(), rule.name))?;
        }
        Ok(RuleFile {
            path: path.to_owned(),
            rules: document.rule,
        })
    }

    /// The rules, for the throttler. They live for the whole process, like the built-in
    /// sets: built once at start-up and leaked, so verdicts can name them as `&'static str`.
    pub(super) fn rules(&self) -> &'static [Rule] {
        let rules: Vec<Rule> = self
            .rules
            .iter()
            .map(|rule| {
                let name: &'static str = Box::leak(rule.name.clone().into_boxed_str());
                // Checked in `parse`.
                let result = rule.result().unwrap_or(RuleResult::Fixed(Outcome::Reject));
                Rule::from_file(name, rule.when.clone(), result)
            })
            .collect();
        Box::leak(rules.into_boxed_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RuleSet, Stuck, Throttler, Verdict};
    use super::*;
    use crate::timestamp::Date;
    use serde_json::json;

    const RULES: &str = r#"
[[rule]]
name = "no_email_products"
when = [{ key = "ProductName", one_of = ["Netscape", "Mosaic"] }]
result = "REJECT"

[[rule]]
name = "nightly"
when = [{ key = "ReleaseChannel", starts_with = "nightly" }, { key = "HangID", present = false }]
result = "DEFER"

[[rule]]
name = "half_of_release"
when = [{ key = "ReleaseChannel", equals = "release" }]
sample = 50
result = "CONTINUE"
otherwise = "FAKEACCEPT"

[[rule]]
name = "everything_else"
result = "ACCEPT"
"#;

    fn verdict(annotations: serde_json::Value, draw: u64) -> Verdict {
        let file = RuleFile::parse(Path::new("rules.toml"), RULES).unwrap();
        let throttler = Throttler::new(&RuleSet::File(file), Vec::new());
        let serde_json::Value::Object(map) = annotations else {
            panic!()
        };
        throttler.throttle(&map, Date::new(2026, 11, 27).unwrap(), &mut Stuck(draw))
    }

    #[test]
    fn rules_from_a_file_decide_in_order() {
        let cases = [
            (
                json!({"ProductName": "Mosaic"}),
                0,
                Outcome::Reject,
                "no_email_products",
            ),
            (
                json!({"ReleaseChannel": "nightly-cck"}),
                0,
                Outcome::Defer,
                "nightly",
            ),
            (
                json!({"ReleaseChannel": "nightly", "HangID": "1"}),
                0,
                Outcome::Accept,
                "everything_else",
            ),
            (
                json!({"ReleaseChannel": "release"}),
                0,
                Outcome::Accept,
                "everything_else",
            ),
            (
                json!({"ReleaseChannel": "release"}),
                u64::MAX,
                Outcome::FakeAccept,
                "half_of_release",
            ),
            (json!({}), 0, Outcome::Accept, "everything_else"),
        ];
        for (annotations, draw, outcome, rule) in cases {
            let v = verdict(annotations.clone(), draw);
            assert_eq!((v.outcome, v.rule), (outcome, rule), "{annotations}");
        }
    }

    #[test]
    fn bad_files_name_the_problem() {
        let bad = [
            (
                "[[rule]]\nname = \"x y\"\nresult = \"ACCEPT\"",
                "not [A-Za-z0-9_]+",
            ),
            (
                "[[rule]]\nname = \"x\"\nresult = \"MAYBE\"",
                "unknown result",
            ),
            (
                "[[rule]]\nname = \"x\"\nresult = \"CONTINUE\"",
                "unknown result",
            ),
            (
                "[[rule]]\nname = \"x\"\nresult = \"ACCEPT\"\nsample = 10",
                "go together",
            ),
            (
                "[[rule]]\nname = \"x\"\nresult = \"ACCEPT\"\nsample = 101\notherwise = \"REJECT\"",
                "not 0 to 100",
            ),
            (
                "[[rule]]\nname = \"x\"\nresult = \"ACCEPT\"\nwhen = [{ key = \"A\" }]",
                "exactly one",
            ),
            (
                "[[rule]]\nname = \"x\"\nresult = \"ACCEPT\"\ncolour = 1",
                "unknown field",
            ),
            ("", "missing field"),
        ];
        for (text, expected) in bad {
            let error = RuleFile::parse(Path::new("r.toml"), text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
