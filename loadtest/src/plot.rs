//! The latency picture of a run: an SVG percentile plot (latency against percentile, on a
//! log scale that spreads the tail: 90%, 99%, 99.9%, ...), one line per measured run, from
//! the HdrHistogram data. Hand-written SVG: no plotting dependency.

use std::fmt::Write as _;

use crate::report::Report;

/// Points per decade of the percentile axis.
const STEPS_PER_DECADE: u32 = 20;
/// The axis ends at 99.999%.
const DECADES: u32 = 5;
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;
const COLOURS: &[&str] = &["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];

/// `(position on the axis, quantile)` for every point plotted: position is
/// log10(1 / (1 - quantile)), so 90% is at 1, 99% at 2.
pub fn quantiles() -> impl Iterator<Item = (f64, f64)> {
    (0..=STEPS_PER_DECADE * DECADES).map(|step| {
        let position = f64::from(step) / f64::from(STEPS_PER_DECADE);
        (position, 1.0 - 10f64.powf(-position))
    })
}

/// The plot of every report's `percentiles_ms`, titled `title`.
pub fn svg(title: &str, reports: &[Report]) -> String {
    let max_ms = reports
        .iter()
        .flat_map(|report| report.percentiles_ms.iter().copied())
        .fold(0.0f64, f64::max)
        .max(0.001);
    let top_ms = nice_ceiling(max_ms);
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let x = |position: f64| LEFT + position / f64::from(DECADES) * plot_width;
    let y = |ms: f64| TOP + plot_height - ms / top_ms * plot_height;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="18" font-size="14">{}</text>"#,
        escape(title)
    );
    for (position, label) in [
        (0.301, "50%"),
        (1.0, "90%"),
        (2.0, "99%"),
        (3.0, "99.9%"),
        (4.0, "99.99%"),
        (5.0, "99.999%"),
    ] {
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#ddd"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{label}</text>"##,
            x(position),
            TOP + plot_height,
            TOP + plot_height + 18.0
        );
    }
    for tick in 0..=5 {
        let ms = top_ms * f64::from(tick) / 5.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#ddd"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{ms}</text>"##,
            y(ms),
            LEFT + plot_width,
            LEFT - 6.0,
            y(ms) + 4.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text><text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">latency, ms</text>"#,
        LEFT + plot_width / 2.0,
        HEIGHT - 8.0,
        TOP + plot_height / 2.0,
        TOP + plot_height / 2.0
    );
    for (index, report) in reports.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let points: Vec<String> = quantiles()
            .zip(&report.percentiles_ms)
            .map(|((position, _), &ms)| format!("{:.1},{:.1}", x(position), y(ms)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let legend_y = TOP + 16.0 + 34.0 * index as f64;
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{:.1}" y="{:.1}">{}</text><text x="{:.1}" y="{:.1}" fill="#555">{:.0}/s · p99 {:.2} ms</text>"##,
            LEFT + plot_width + 14.0,
            legend_y - 10.0,
            LEFT + plot_width + 32.0,
            legend_y,
            escape(&report.label),
            LEFT + plot_width + 32.0,
            legend_y + 15.0,
            report.crashes_per_s,
            report.latency_ms.p99
        );
    }
    out.push_str("</svg>\n");
    out
}

/// 1, 2 or 5 times a power of ten, at least `value`.
fn nice_ceiling(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|step| step * magnitude)
        .find(|&nice| nice >= value)
        .unwrap_or(10.0 * magnitude)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_positions_and_ceilings() {
        let points: Vec<_> = quantiles().collect();
        assert_eq!(points.len(), 101);
        assert_eq!(points[0], (0.0, 0.0));
        assert!((points[20].1 - 0.9).abs() < 1e-12);
        assert!((points[40].1 - 0.99).abs() < 1e-12);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
    }
}
