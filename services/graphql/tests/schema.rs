//! The committed SDL is the schema the code serves, and it documents itself.

use std::path::PathBuf;

use serde_json::Value;

#[test]
fn the_committed_schema_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/registry.graphql");
    let code = graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &code).expect("write schema/registry.graphql");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == code,
        "schema/registry.graphql is stale: run `UPDATE_SCHEMA=1 cargo test -p graphql --test schema` \
         (or `social-registry print-schema > schema/registry.graphql`) and commit it"
    );
}

const INTROSPECTION: &str = r#"{ __schema { types {
    name kind description
    fields { name description args { name description } }
    inputFields { name description }
    enumValues { name description }
} } }"#;

/// Types the GraphQL library generates for Relay connections; their fields
/// carry the library's own descriptions.
fn generated(name: &str) -> bool {
    name.ends_with("Connection") || name.ends_with("Edge") || name == "PageInfo"
}

fn described(v: &Value) -> bool {
    v["description"]
        .as_str()
        .is_some_and(|d| !d.trim().is_empty())
}

#[tokio::test]
async fn every_type_field_argument_and_enum_value_of_the_schema_has_a_description() {
    let response = graphql::build(None).execute(INTROSPECTION).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    let builtin = ["String", "Int", "Float", "Boolean", "ID"];
    let mut missing = Vec::new();
    for t in data["__schema"]["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        if name.starts_with("__") || builtin.contains(&name) {
            continue;
        }
        if !described(t) && !generated(name) {
            missing.push(name.to_owned());
        }
        for f in t["fields"].as_array().into_iter().flatten() {
            let field = format!("{name}.{}", f["name"].as_str().unwrap());
            if !described(f) {
                missing.push(field.clone());
            }
            for a in f["args"].as_array().into_iter().flatten() {
                if !described(a) {
                    missing.push(format!("{field}({})", a["name"].as_str().unwrap()));
                }
            }
        }
        for list in ["inputFields", "enumValues"] {
            for f in t[list].as_array().into_iter().flatten() {
                if !described(f) {
                    missing.push(format!("{name}.{}", f["name"].as_str().unwrap()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}
