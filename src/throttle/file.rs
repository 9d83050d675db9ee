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

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{text, Condition, Outcome, Rule, RuleResult};

/// A parsed, checked rule file: typed rules, built once.
#[derive(Debug, Clone)]
pub struct RuleFile {
    /// Where it was read from.
    pub path: PathBuf,
    rules: Arc<[Rule]>,
}

/// Why a rule set cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleFileError {
    /// Neither a built-in set's name nor a `.toml` path.
    #[error("expected mozilla, accept_all or the path of a .toml rule file")]
    UnknownSet,
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape.
    #[error("{}: {source}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: toml::de::Error,
    },
    /// The file has no `[[rule]]`.
    #[error("{}: no [[rule]]", path.display())]
    NoRules {
        /// The file.
        path: PathBuf,
    },
    /// One rule is not usable.
    #[error("{}: rule {name:?}: {problem}", path.display())]
    Rule {
        /// The file.
        path: PathBuf,
        /// The rule's name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    rule: Vec<FileRule>,
}

#[derive(Debug, Deserialize)]
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

    /// The typed rule, once every part of it checks out.
    fn into_rule(self) -> Result<Rule, String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(format!("rule name {:?} is not [A-Za-z0-9_]+", self.name));
        }
        self.when.iter().try_for_each(Test::check)?;
        let result = self.result()?;
        Ok(Rule {
            name: Cow::Owned(self.name),
            condition: Condition::All(self.when),
            result,
        })
    }
}

impl RuleFile {
    /// Reads and checks `path`; the error names the rule at fault.
    pub fn load(path: &Path) -> Result<RuleFile, RuleFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| RuleFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        RuleFile::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<RuleFile, RuleFileError> {
        let document: Document = toml::from_str(text).map_err(|source| RuleFileError::Toml {
            path: path.to_owned(),
            source,
        })?;
        if document.rule.is_empty() {
            return Err(RuleFileError::NoRules {
                path: path.to_owned(),
            });
        }
        let rules = document
            .rule
            .into_iter()
            .map(|rule| {
                let name = rule.name.clone();
                rule.into_rule().map_err(|problem| RuleFileError::Rule {
                    path: path.to_owned(),
                    name,
                    problem,
                })
            })
            .collect::<Result<Arc<[Rule]>, _>>()?;
        Ok(RuleFile {
            path: path.to_owned(),
            rules,
        })
    }

    /// The rules, in file order.
    pub(super) fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RuleSet, Stuck, Throttler};
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

    fn verdict(annotations: serde_json::Value, draw: u64) -> (Outcome, String) {
        let file = RuleFile::parse(Path::new("rules.toml"), RULES).unwrap();
        let throttler = Throttler::new(&RuleSet::File(file), Vec::new());
        let serde_json::Value::Object(map) = annotations else {
            panic!()
        };
        let verdict = throttler.throttle(&map, Date::new(2026, 11, 27).unwrap(), &mut Stuck(draw));
        (verdict.outcome, verdict.rule.to_owned())
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
            let (decided, by) = verdict(annotations.clone(), draw);
            assert_eq!((decided, by.as_str()), (outcome, rule), "{annotations}");
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
            let error = RuleFile::parse(Path::new("r.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
