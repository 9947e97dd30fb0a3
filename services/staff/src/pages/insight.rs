//! Insight, for communications and auditors: the registry's figures as
//! server-rendered SVG charts, each with its numbers in a table beside it
//! (the chart is hidden from screen readers; the table is the same data).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup, PreEscaped};
use serde_json::{json, Value};

use super::{level_name, refusal_page, service_name, text};
use crate::api;
use crate::{page, require, StaffState};

/// One bar: its label, its value, and the value as words.
struct Bar {
    label: String,
    value: f64,
    shown: String,
}

const BLUE: &str = "#1d70b8";
const DARK_BLUE: &str = "#003078";
const INK: &str = "#0b0c0c";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart as SVG: labels on the left, bars scaled to the
/// largest value, each value written at the end of its bar. `series` bars
/// per row (one or two), in blue and dark blue.
fn svg_bars(rows: &[(String, Vec<(f64, String)>)], legend: &[&str]) -> Markup {
    let width = 640.0;
    let label_w = 210.0;
    let bar_h = 22.0;
    let gap = 12.0;
    let series = rows.first().map(|r| r.1.len()).unwrap_or(1).max(1) as f64;
    let row_h = bar_h * series + gap;
    let top = if legend.len() > 1 { 30.0 } else { 6.0 };
    let height = top + row_h * rows.len().max(1) as f64;
    let max = rows
        .iter()
        .flat_map(|r| r.1.iter().map(|v| v.0))
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let room = width - label_w - 90.0;
    let colours = [BLUE, DARK_BLUE];
    let mut svg = format!(
        r#"<svg class="staff-chart" viewBox="0 0 {width} {height}" width="100%" aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg" font-family="arial, sans-serif" font-size="15">"#
    );
    if legend.len() > 1 {
        let mut x = label_w;
        for (i, name) in legend.iter().enumerate() {
            svg += &format!(
                r#"<rect x="{x}" y="4" width="16" height="16" fill="{}"/><text x="{}" y="17" fill="{INK}">{}</text>"#,
                colours[i % 2],
                x + 22.0,
                escape(name)
            );
            x += 30.0 + 9.0 * name.len() as f64;
        }
    }
    for (i, (label, values)) in rows.iter().enumerate() {
        let y0 = top + row_h * i as f64;
        let short: String = if label.chars().count() > 26 {
            label.chars().take(25).collect::<String>() + "…"
        } else {
            label.clone()
        };
        svg += &format!(
            r#"<text x="{}" y="{}" text-anchor="end" fill="{INK}">{}</text>"#,
            label_w - 8.0,
            y0 + bar_h * series / 2.0 + 5.0,
            escape(&short)
        );
        for (j, (v, shown)) in values.iter().enumerate() {
            let y = y0 + bar_h * j as f64;
            let w = (v / max * room).max(if *v > 0.0 { 2.0 } else { 0.0 });
            svg += &format!(
                r#"<rect x="{label_w}" y="{y}" width="{w:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{}" fill="{INK}">{}</text>"#,
                bar_h - 4.0,
                colours[j % 2],
                label_w + w + 6.0,
                y + bar_h - 9.0,
                escape(shown)
            );
        }
    }
    svg += "</svg>";
    html! { (PreEscaped(svg)) }
}

/// A chart with its table: the figures twice, once to look at and once to
/// read.
fn chart(id: &str, title: &str, what: &str, bars: &[Bar]) -> Markup {
    let rows: Vec<(String, Vec<(f64, String)>)> = bars
        .iter()
        .map(|b| (b.label.clone(), vec![(b.value, b.shown.clone())]))
        .collect();
    html! {
        section class="staff-figure" aria-labelledby={ (id) "-title" } id=(id) {
            h2 class="govuk-heading-m" id={ (id) "-title" } { (title) }
            @if bars.is_empty() {
                p class="govuk-body" { "None yet." }
            } @else {
                div class="govuk-grid-row" {
                    div class="govuk-grid-column-two-thirds" { (svg_bars(&rows, &[what])) }
                    div class="govuk-grid-column-one-third" {
                        table class="govuk-table govuk-!-font-size-16" {
                            caption class="govuk-table__caption govuk-visually-hidden" { (title) }
                            thead class="govuk-table__head" { tr class="govuk-table__row" {
                                th scope="col" class="govuk-table__header" { "" }
                                th scope="col" class="govuk-table__header govuk-table__header--numeric" { (what) }
                            } }
                            tbody class="govuk-table__body" {
                                @for b in bars {
                                    tr class="govuk-table__row" {
                                        th scope="row" class="govuk-table__header" { (b.label) }
                                        td class="govuk-table__cell govuk-table__cell--numeric" { (b.shown) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Hours in words: minutes, hours or days, whichever reads best.
fn duration(hours: f64) -> String {
    if hours * 60.0 < 1.0 {
        "under a minute".to_owned()
    } else if hours < 1.0 {
        format!("{:.0} minutes", (hours * 60.0).round())
    } else if hours < 48.0 {
        format!("{hours:.1} hours")
    } else {
        format!("{:.1} days", hours / 24.0)
    }
}

fn counts(v: &Value, label: impl Fn(&Value) -> String) -> Vec<Bar> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let n = r["count"].as_i64().unwrap_or(0);
            Bar {
                label: label(r),
                value: n as f64,
                shown: n.to_string(),
            }
        })
        .collect()
}

fn status_words(s: &str) -> &'static str {
    match s {
        "SUBMITTED" => "Submitted",
        "CHANGES_REQUESTED" => "Changes requested",
        "APPROVED" => "Approved",
        "PUBLISHED" => "Published",
        "WITHDRAWN" => "Withdrawn",
        "REJECTED" => "Rejected",
        _ => "Other",
    }
}

/// `/staff/insight`.
pub(crate) async fn insight(State(state): State<StaffState>, headers: HeaderMap) -> Response {
    let session = match require(&state, &headers, "/staff/insight").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = match api::run(&state.schema, &session, "Insight", json!({})).await {
        Ok(d) => d,
        Err(r) => return refusal_page(&state, &session, "Insight", &r),
    };
    let i = &data["insight"];
    let platform_name = |code: &str| {
        data["platforms"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| text(&p["platform"]) == code)
            .map(|p| text(&p["name"]).to_owned())
            .unwrap_or_else(|| code.to_owned())
    };
    let by_level = counts(&i["byLevel"], |r| level_name(text(&r["level"])).to_owned());
    let by_status = counts(&i["byStatus"], |r| {
        status_words(text(&r["status"])).to_owned()
    });
    let by_platform = counts(&i["byPlatform"], |r| platform_name(text(&r["platform"])));
    let by_service = counts(&i["byServiceArea"], |r| {
        service_name(&data, text(&r["serviceArea"]))
    });
    let times: Vec<&Value> = i["publicationTimes"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let time_rows: Vec<(String, Vec<(f64, String)>)> = times
        .iter()
        .map(|t| {
            let m = t["medianHours"].as_f64().unwrap_or(0.0);
            let p = t["p90Hours"].as_f64().unwrap_or(0.0);
            (
                level_name(text(&t["level"])).to_owned(),
                vec![(m, duration(m)), (p, duration(p))],
            )
        })
        .collect();
    let overdue = i["overdueRevalidations"].as_i64().unwrap_or(0);
    let open_reports = i["openFakeReports"].as_i64().unwrap_or(0);
    let body = html! {
        h1 class="govuk-heading-xl" { "Insight" }
        p class="govuk-body" { "The registry's figures now. Each chart's numbers are in the table beside it." }
        div class="govuk-grid-row" {
            div class="govuk-grid-column-one-half" {
                div class="staff-stat" id="overdue-revalidations" {
                    p class="govuk-body govuk-!-margin-bottom-1" { "Re-validations overdue" }
                    p class="govuk-heading-xl govuk-!-margin-bottom-2" { (overdue) }
                    @if overdue > 0 { a class="govuk-link" href="/staff/communications#revalidations" { "See which" } }
                }
            }
            div class="govuk-grid-column-one-half" {
                div class="staff-stat" id="open-fake-reports" {
                    p class="govuk-body govuk-!-margin-bottom-1" { "Fake account reports open" }
                    p class="govuk-heading-xl govuk-!-margin-bottom-2" { (open_reports) }
                    @if open_reports > 0 { a class="govuk-link" href="/staff/reports" { "See the reports" } }
                }
            }
        }
        (chart("by-level", "Published accounts by level", "Accounts", &by_level))
        (chart("by-platform", "Published accounts by platform", "Accounts", &by_platform))
        (chart("by-service", "Published accounts by service", "Accounts", &by_service))
        (chart("by-status", "Every registration by status", "Registrations", &by_status))
        section class="staff-figure" aria-labelledby="publication-times-title" id="publication-times" {
            h2 class="govuk-heading-m" id="publication-times-title" { "Time from submission to publication" }
            p class="govuk-body" { "Half of the registrations at a level were published within the median; nine in ten within the 90th percentile." }
            @if times.is_empty() {
                p class="govuk-body" { "Nothing has been published yet." }
            } @else {
                div class="govuk-grid-row" {
                    div class="govuk-grid-column-two-thirds" { (svg_bars(&time_rows, &["Median", "90th percentile"])) }
                    div class="govuk-grid-column-one-third" {
                        table class="govuk-table govuk-!-font-size-16" {
                            caption class="govuk-table__caption govuk-visually-hidden" { "Time from submission to publication, by level" }
                            thead class="govuk-table__head" { tr class="govuk-table__row" {
                                th scope="col" class="govuk-table__header" { "Level" }
                                th scope="col" class="govuk-table__header govuk-table__header--numeric" { "Median" }
                                th scope="col" class="govuk-table__header govuk-table__header--numeric" { "90th percentile" }
                                th scope="col" class="govuk-table__header govuk-table__header--numeric" { "Published" }
                            } }
                            tbody class="govuk-table__body" {
                                @for t in &times {
                                    tr class="govuk-table__row" {
                                        th scope="row" class="govuk-table__header" { (level_name(text(&t["level"]))) }
                                        td class="govuk-table__cell govuk-table__cell--numeric" { (duration(t["medianHours"].as_f64().unwrap_or(0.0))) }
                                        td class="govuk-table__cell govuk-table__cell--numeric" { (duration(t["p90Hours"].as_f64().unwrap_or(0.0))) }
                                        td class="govuk-table__cell govuk-table__cell--numeric" { (t["published"]) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&state, Some(&session), StatusCode::OK, "Insight", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_scales_its_bars_to_the_largest_value_and_escapes_its_labels() {
        let svg = svg_bars(
            &[
                ("<Youth>".into(), vec![(10.0, "10".into())]),
                ("Libraries".into(), vec![(5.0, "5".into())]),
            ],
            &["Accounts"],
        )
        .into_string();
        assert!(svg.contains("&lt;Youth&gt;") && !svg.contains("<Youth>"));
        // 640 wide, 210 for labels, 90 kept for the value's words: 340.
        assert!(svg.contains(r#"width="340.0""#), "{svg}");
        assert!(svg.contains(r#"width="170.0""#), "{svg}");
        assert!(svg.contains(r#"aria-hidden="true""#));
    }

    #[test]
    fn durations_read_as_minutes_hours_or_days() {
        assert_eq!(duration(0.01), "under a minute");
        assert_eq!(duration(0.5), "30 minutes");
        assert_eq!(duration(3.25), "3.2 hours");
        assert_eq!(duration(72.0), "3.0 days");
    }
}
