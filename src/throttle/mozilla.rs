//! Mozilla's production rules (SPEC §3), in Antenna's order, with the product and
//! Android package lists they consult.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{always, fixed, text, Context, Outcome, Rule, RuleResult};
use crate::timestamp::Date;

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
pub(super) const MOZILLA_PACKAGE_NAMES: &[(&str, &[&str])] = &[
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

const fn sampled(percent: f64, matched: Outcome, otherwise: Outcome) -> RuleResult {
    RuleResult::Sampled {
        percent,
        matched,
        otherwise,
    }
}

/// Mozilla's rules, in order (SPEC §3).
pub(super) static MOZILLA_RULES: [Rule; 16] = {
    use Outcome::*;
    [
        Rule::builtin("has_old_buildid", has_old_buildid, fixed(Reject)),
        Rule::builtin(
            "has_hangid_and_browser",
            has_hangid_and_browser,
            fixed(Reject),
        ),
        Rule::builtin("infobar_is_true", infobar_is_true, fixed(Reject)),
        Rule::builtin("b2g", b2g, fixed(FakeAccept)),
        Rule::builtin("unsupported_product", unsupported_product, fixed(Reject)),
        Rule::builtin(
            "unsupported_packagename",
            unsupported_packagename,
            fixed(Reject),
        ),
        Rule::builtin("throttleable_0", throttleable_0, fixed(Accept)),
        Rule::builtin("has_comments", has_comments, fixed(Accept)),
        Rule::builtin("has_phc", has_phc, fixed(Accept)),
        Rule::builtin("is_background", is_background, fixed(Accept)),
        Rule::builtin(
            "is_shutdownkill",
            is_shutdownkill,
            sampled(10.0, Continue, Reject),
        ),
        Rule::builtin(
            "is_firefox_esr_unsupported_windows",
            is_firefox_esr_unsupported_windows,
            sampled(25.0, Continue, Reject),
        ),
        Rule::builtin("is_alpha_beta_esr", is_alpha_beta_esr, fixed(Accept)),
        Rule::builtin("is_nightly", is_nightly, fixed(Accept)),
        Rule::builtin(
            "is_firefox_desktop",
            is_firefox_desktop,
            sampled(10.0, Accept, Reject),
        ),
        Rule::builtin("accept_everything", always, fixed(Accept)),
    ]
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{RuleSet, Stuck, Throttler};
    use super::*;

    const IN: u64 = 0;
    const OUT: u64 = u64::MAX;

    fn today() -> Date {
        Date::new(2026, 11, 27).unwrap()
    }

    fn verdict(annotations: Value, draw: u64) -> (Outcome, String) {
        let throttler = Throttler::new(
            &RuleSet::Mozilla,
            MOZILLA_PRODUCTS.iter().map(|p| p.to_string()).collect(),
        );
        let Value::Object(map) = annotations else {
            panic!("not an object")
        };
        let v = throttler.throttle(&map, today(), &mut Stuck(draw));
        (v.outcome, v.rule.to_owned())
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
            let (outcome, rule) = verdict(annotations.clone(), draw);
            assert_eq!((outcome, rule.as_str()), expected, "{annotations}");
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
}
