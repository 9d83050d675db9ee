//! JSON text byte-compatible with Python's `json.dumps(obj, sort_keys=True)`, the format of
//! Antenna's raw crashes: keys sorted at every level, `", "` and `": "` separators, every
//! character outside printable ASCII escaped as `\uXXXX` (surrogate pairs above U+FFFF),
//! and floats written as Python's `repr` writes them (`1e+16`, `1.5e-05`, `2.0`).
//! Tools downstream diff and hash raw crashes, so "equivalent JSON" is not enough.

use std::fmt::Write;

use serde_json::{Map, Value};

/// Serialises `value` as Python's `json.dumps(value, sort_keys=True)` would.
pub fn to_string(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value);
    out
}

/// Serialises a JSON object as Python's `json.dumps(obj, sort_keys=True)` would.
pub fn object_to_string(map: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(1024);
    write_object(&mut out, map);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => write_float(out, float),
            _ => {
                let _ = write!(out, "{number}");
            }
        },
        Value::String(text) => write_str(out, text),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>) {
    // serde_json's default map is a BTreeMap, sorted by UTF-8 bytes, which is the
    // same order as Python's sort of str (by code point); sort anyway so a feature
    // flip elsewhere in the tree cannot change our bytes.
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, item)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(out, key);
        out.push_str(": ");
        write_value(out, item);
    }
    out.push('}');
}

fn write_str(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `float.__repr__`: the shortest digits that round-trip, in fixed notation when
/// the decimal exponent is in -4..16, else `d.ddde+XX`.
fn write_float(out: &mut String, value: f64) {
    // `{:e}` gives the shortest round-trip digits too: "1.5e-5", "1e16", "-2e0".
    let sci = format!("{value:e}");
    let Some((mantissa, exponent)) = sci.split_once('e') else {
        out.push_str(&sci);
        return;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.push_str(sign);
    if (-4..16).contains(&exponent) {
        if exponent < 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat((-exponent - 1) as usize));
            out.push_str(&digits);
        } else {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.push_str(&"0".repeat(int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        // Expected strings produced by CPython 3.11: json.dumps(v, sort_keys=True)
        let cases = [
            (
                json!({"b": 1, "a": [1, 2], "c": {}}),
                r#"{"a": [1, 2], "b": 1, "c": {}}"#,
            ),
            (json!([]), "[]"),
            (json!("é ☃ 😀"), r#""\u00e9 \u2603 \ud83d\ude00""#),
            (
                json!("q\"b\\n\n\r\t\u{8}\u{c}\u{1}\u{7f}"),
                r#""q\"b\\n\n\r\t\b\f\u0001\u007f""#,
            ),
            (
                json!({"Z": null, "a": true, "é": false}),
                r#"{"Z": null, "a": true, "\u00e9": false}"#,
            ),
            (json!(-17), "-17"),
            (json!(18446744073709551615u64), "18446744073709551615"),
        ];
        for (value, expected) in cases {
            assert_eq!(to_string(&value), expected);
        }
    }

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (2.5, "2.5"),
            (-0.5, "-0.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (123456789012345.6, "123456789012345.6"),
            (9999999999999998.0, "9999999999999998.0"),
            (0.1, "0.1"),
            (1e100, "1e+100"),
            (0.0, "0.0"),
        ];
        for (value, expected) in cases {
            let mut out = String::new();
            write_float(&mut out, value);
            assert_eq!(out, expected, "{value}");
        }
    }
}
