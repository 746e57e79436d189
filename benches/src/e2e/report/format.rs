//! Cells, ratios and numbers as the tables show them.

use super::super::clients::Client;
use super::super::workloads::latency::LatencyCell;
use super::super::workloads::{Measured, Row};

pub(super) fn rate(v: f64) -> String {
    format!("{:.1}k", v / 1e3)
}

pub(super) fn fixed(decimals: usize) -> impl Fn(f64) -> String {
    move |v| format!("{v:.decimals$}")
}

/// Keeps a table cell on one line and its pipes escaped.
pub(super) fn escape(text: &str) -> String {
    let one_line = text.replace('\n', " ").replace('|', "\\|");
    match one_line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// "median [min–max]", or why there is none.
pub(super) fn cell(measured: Option<&Measured>, format: &dyn Fn(f64) -> String) -> String {
    let Some(measured) = measured else {
        return "—".to_owned();
    };
    let mut text = match measured.spread() {
        Some(s) if s.n > 1 => format!("{} [{}–{}]", format(s.median), format(s.min), format(s.max)),
        Some(s) => format(s.median),
        None => String::new(),
    };
    let rounds = measured.samples.len() + measured.invalid.len() + measured.errors.len();
    if let Some(reason) = measured.invalid.first() {
        text = format!(
            "**INVALID** {}/{rounds} ({}){}",
            measured.invalid.len(),
            escape(reason),
            if text.is_empty() {
                String::new()
            } else {
                format!("; valid rounds: {text}")
            }
        );
    }
    if let Some(error) = measured.errors.first() {
        text = format!(
            "**error** {}/{rounds} ({}){}",
            measured.errors.len(),
            escape(error),
            if text.is_empty() {
                String::new()
            } else {
                format!("; {text}")
            }
        );
    }
    text
}

/// mqtide's median over the peer's, when both are clean.
pub(super) fn ratio_of(ours: Option<f64>, theirs: Option<f64>) -> Option<f64> {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

pub(super) fn show_ratio(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}"))
}

pub(super) fn median(row: &Row, client: Client) -> Option<f64> {
    row.get(&client).and_then(Measured::clean_median)
}

pub(super) fn latency_cell(cell: Option<&LatencyCell>) -> String {
    let Some(cell) = cell else {
        return "—".to_owned();
    };
    if let Some(error) = cell.p99.errors.first() {
        return format!("**error** ({})", escape(error));
    }
    match (
        cell.pooled_percentile(50.0),
        cell.pooled_percentile(99.0),
        cell.p99.spread(),
    ) {
        (Some(p50), Some(p99), Some(s)) if s.n > 1 => {
            format!("{p50:.0} / {p99:.0} [{:.0}–{:.0}]", s.min, s.max)
        }
        (Some(p50), Some(p99), _) => format!("{p50:.0} / {p99:.0}"),
        _ => "—".to_owned(),
    }
}
