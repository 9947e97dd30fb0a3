//! The committed SDL is the schema the code serves.

use std::path::PathBuf;

#[test]
fn the_committed_schema_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/registry.graphql");
    let code = api::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &code).expect("write schema/registry.graphql");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == code,
        "schema/registry.graphql is stale: run `UPDATE_SCHEMA=1 cargo test -p api --test schema` \
         (or `social-registry print-schema > schema/registry.graphql`) and commit it"
    );
}

#[test]
fn every_type_and_field_of_the_schema_has_a_description() {
    let sdl = api::graphql::sdl();
    let mut missing = Vec::new();
    let mut previous = "";
    let mut in_schema_block = false;
    for line in sdl.lines() {
        let t = line.trim();
        if t.starts_with("schema {") {
            in_schema_block = true;
        }
        if in_schema_block {
            in_schema_block = t != "}";
            continue;
        }
        let declares = t.starts_with("type ")
            || t.starts_with("input ")
            || t.starts_with("enum ")
            || (line.starts_with('\t') && t.contains(':') && !t.starts_with('"'));
        if declares && !previous.ends_with("\"\"\"") && !previous.starts_with('"') {
            missing.push(t.to_owned());
        }
        previous = t;
    }
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}
