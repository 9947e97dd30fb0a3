//! Proposing a change to a published registration: its form as it stands,
//! filled in, to change and send with a reason. It stays published under
//! its current details while the change goes through the sign-offs it
//! touches (the API decides which); publication then publishes the change.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde_json::{json, Value};

use super::{
    choices, form_errors, form_input, form_page, missing, picker, refusal_page, text,
    topics_from_checkboxes, Fields, FormTarget,
};
use crate::api;
use crate::session::Session;
use crate::{require, require_form, StaffState};

/// The level's number of a registration's `level`.
fn level_number(level: &str) -> &'static str {
    match level {
        "BROADCAST" => "1",
        "CONSULT" => "2",
        "PARTICIPATE" => "3",
        _ => "4",
    }
}

fn join(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The registration's current form as the page's fields.
fn fields_of(r: &Value) -> Fields {
    let mut f = Fields::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            f.insert(k.to_owned(), v.to_owned());
        }
    };
    put("platform", text(&r["platform"]));
    put("account", text(&r["account"]));
    put("service_area", text(&r["serviceArea"]));
    let d = &r["details"];
    for (prefix, person) in [
        ("contact", &r["businessContact"]),
        ("officer", &d["officer"]),
        ("manager", &d["lineManager"]),
        ("senior", &d["seniorOfficer"]),
    ] {
        if person.is_object() {
            put(&format!("{prefix}_subject"), text(&person["subject"]));
            put(&format!("{prefix}_name"), text(&person["name"]));
            put(&format!("{prefix}_email"), text(&person["email"]));
            put(&format!("{prefix}_chosen"), "yes");
        }
    }
    put("information_types", &join(&d["informationTypes"]));
    put("content_sources", &join(&d["contentSources"]));
    put("topic", text(&d["topic"]));
    put("opens_on", text(&d["opensOn"]));
    put("closes_on", text(&d["closesOn"]));
    put("job_role", text(&d["jobRole"]));
    put("councillor", text(&d["councillor"]));
    put("press_arrangements", text(&d["pressMedia"]["arrangements"]));
    if d["pressMedia"]["invited"] == true {
        put("press_invited", "yes");
    }
    if d["pressMedia"]["involved"] == true {
        put("press_involved", "yes");
    }
    for t in d["topics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        put(&format!("topic_{t}"), "yes");
    }
    if let Some(a) = r["brandingAssets"].as_array().and_then(|a| a.first()) {
        put("logo_description", text(&a["description"]));
        put("logo_reference", text(&a["reference"]));
    }
    f
}

async fn load(state: &StaffState, session: &Session, id: &str) -> Result<Value, Response> {
    match api::run(
        &state.schema,
        session,
        "StaffRegistration",
        json!({"id": id}),
    )
    .await
    {
        Ok(d) => Ok(d),
        Err(r) => Err(refusal_page(
            state,
            session,
            "This registration cannot be shown",
            &r,
        )),
    }
}

fn target(id: &str, r: &Value) -> FormTarget {
    FormTarget {
        action: format!("/staff/registrations/{id}/change"),
        back: format!("/staff/registrations/{id}"),
        caption: format!("Propose a change to {}", text(&r["accountKey"])),
        reason: true,
    }
}

/// `GET /staff/registrations/{id}/change`: the form as it stands.
pub(crate) async fn start(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/staff/registrations/{id}/change");
    let session = match require(&state, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = match load(&state, &session, &id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let r = &data["registration"];
    let level = level_number(text(&r["level"]));
    let choices = choices(&state, &session).await;
    let f = fields_of(r);
    form_page(
        &state,
        &session,
        level,
        &f,
        &[],
        &choices,
        None,
        &target(&id, r),
    )
}

/// `POST /staff/registrations/{id}/change`: a picker step, the check, or
/// the proposal itself.
pub(crate) async fn submit(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let here = format!("/staff/registrations/{id}/change");
    let session = match require_form(&state, &headers, &here, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = match load(&state, &session, &id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let r = &data["registration"];
    let level = level_number(text(&r["level"]));
    let target = target(&id, r);
    let choices = choices(&state, &session).await;
    let mut f = topics_from_checkboxes(f);
    let step = f.get("step").cloned().unwrap_or_default();
    if picker::is_step(&step) {
        let search = picker::step(&state, &session, &step, &mut f).await;
        return form_page(
            &state,
            &session,
            level,
            &f,
            &[],
            &choices,
            search.as_ref(),
            &target,
        );
    }
    let mut errors = missing(level, &f);
    if f.get("reason").is_none_or(|v| v.trim().is_empty()) {
        errors.push(("reason".into(), "Say why it changes".into()));
    }
    if !errors.is_empty() {
        return form_page(
            &state, &session, level, &f, &errors, &choices, None, &target,
        );
    }
    let vars = json!({
        "id": id,
        "version": r["version"],
        "form": form_input(level, &f, &choices.policy),
        "reason": f.get("reason").map(|v| v.trim()).unwrap_or_default(),
    });
    match api::run(&state.schema, &session, "ProposeChange", vars).await {
        Ok(_) => Redirect::to(&format!("/staff/registrations/{id}")).into_response(),
        Err(refusals) => {
            let errors = form_errors(refusals);
            form_page(
                &state, &session, level, &f, &errors, &choices, None, &target,
            )
        }
    }
}
