//! The staff app as a GraphQL client: every page runs named operations
//! from `operations/*.graphql` (validated against the schema by a test),
//! executed in-process under the signed-in person's identity, so the app
//! can do nothing the API would refuse and says what the API says.

use async_graphql::{Request, Variables};
use graphql::{CorrelationId, RegistrySchema, Viewer};
use serde_json::Value;

use crate::session::Session;

/// Every operation document of the app, by file.
pub const DOCUMENTS: &[(&str, &str)] = &[
    ("Home.graphql", include_str!("../operations/Home.graphql")),
    (
        "MyRegistrations.graphql",
        include_str!("../operations/MyRegistrations.graphql"),
    ),
    (
        "Registration.graphql",
        include_str!("../operations/Registration.graphql"),
    ),
    ("Act.graphql", include_str!("../operations/Act.graphql")),
    (
        "Submit.graphql",
        include_str!("../operations/Submit.graphql"),
    ),
    (
        "Reports.graphql",
        include_str!("../operations/Reports.graphql"),
    ),
    ("Work.graphql", include_str!("../operations/Work.graphql")),
    ("Audit.graphql", include_str!("../operations/Audit.graphql")),
    (
        "Insight.graphql",
        include_str!("../operations/Insight.graphql"),
    ),
    (
        "Privacy.graphql",
        include_str!("../operations/Privacy.graphql"),
    ),
    ("Admin.graphql", include_str!("../operations/Admin.graphql")),
];

/// The operations a document defines, each with whether it is a mutation.
fn operations_of(document: &str) -> impl Iterator<Item = (&str, bool)> {
    document.lines().filter_map(|line| {
        let (kind, rest) = line
            .strip_prefix("query ")
            .map(|r| (false, r))
            .or_else(|| line.strip_prefix("mutation ").map(|r| (true, r)))?;
        let name = rest
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()?;
        Some((name, kind))
    })
}

fn find(operation: &str) -> (&'static str, bool) {
    DOCUMENTS
        .iter()
        .find_map(|(_, d)| {
            operations_of(d)
                .find(|(name, _)| *name == operation)
                .map(|(_, mutation)| (*d, mutation))
        })
        .unwrap_or_else(|| panic!("no operation {operation} in operations/"))
}

fn document_of(operation: &str) -> &'static str {
    find(operation).0
}

fn is_mutation(operation: &str) -> bool {
    find(operation).1
}

/// What the API refused, in its words, with the field it named.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The error code (`BAD_USER_INPUT`, `FORBIDDEN`, …).
    pub code: String,
    /// The message.
    pub message: String,
    /// The input field it names, when it names one (e.g. `form.account`).
    pub field: Option<String>,
}

/// Run operation `name` with `variables` as the session's person.
pub async fn run(
    schema: &RegistrySchema,
    session: &Session,
    name: &str,
    variables: Value,
) -> Result<Value, Vec<Refusal>> {
    let principal = app::context::Principal {
        actor: session.actor.clone(),
        name: session.name.clone(),
        expires_at: None,
    };
    let request = Request::new(document_of(name))
        .operation_name(name)
        .variables(Variables::from_json(variables))
        .data(Viewer(Some(principal)))
        .data(CorrelationId(format!("staff-{}", uuid::Uuid::new_v4())));

    let response = schema.execute(request).await;
    // Fields this person may not see (someone else's contact details) come
    // back as null with a FORBIDDEN error each: the rest of the page stands.
    // A refused top-level field is the page refused: its whole subject.
    let only_hidden_fields = response.errors.iter().all(|e| {
        e.path.len() > 1
            && e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(|v| v.clone().into_json().ok())
                .is_some_and(|v| v == "FORBIDDEN")
    });
    let data = response.data.clone().into_json().unwrap_or(Value::Null);
    if response.errors.is_empty() || (only_hidden_fields && !data.is_null() && !is_mutation(name)) {
        return Ok(data);
    }
    Err(response
        .errors
        .iter()
        .map(|e| {
            let ext = e.extensions.as_ref();
            let get = |k: &str| {
                ext.and_then(|x| x.get(k))
                    .and_then(|v| v.clone().into_json().ok())
                    .and_then(|v| v.as_str().map(str::to_owned))
            };
            Refusal {
                code: get("code").unwrap_or_else(|| "INTERNAL".into()),
                message: e.message.clone(),
                field: get("field"),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_document_is_valid_against_the_schema() {
        let schema = graphql::build(None);
        for (file, document) in DOCUMENTS {
            let parsed = async_graphql::parser::parse_query(document)
                .unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
            for (name, _) in parsed.operations.iter() {
                let name = name
                    .map(|n| n.to_string())
                    .expect("every operation is named");
                let invalid = validation_errors(&schema, document, &name);
                assert!(invalid.is_empty(), "{file} {name}: {invalid:?}");
            }
        }
    }

    #[test]
    fn every_document_in_the_operations_folder_is_one_the_app_can_run() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/operations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".graphql"))
            .collect();
        files.sort();
        let mut listed: Vec<String> = DOCUMENTS.iter().map(|(f, _)| (*f).to_owned()).collect();
        listed.sort();
        assert_eq!(files, listed);
    }

    #[test]
    fn every_operation_is_found_by_its_name_once_and_with_its_kind() {
        let mut seen = std::collections::HashSet::new();
        for (file, document) in DOCUMENTS {
            let parsed = async_graphql::parser::parse_query(document).unwrap();
            for (name, op) in parsed.operations.iter() {
                let name = name.unwrap().to_string();
                assert!(seen.insert(name.clone()), "{name} is defined twice");
                let mutation = op.node.ty == async_graphql::parser::types::OperationType::Mutation;
                assert_eq!(find(&name), (*document, mutation), "{file} {name}");
            }
        }
    }

    /// The validator's errors for operation `name`: they have no path (a
    /// schema without state fails every resolver, but those errors name
    /// the field they come from).
    fn validation_errors(schema: &RegistrySchema, document: &str, name: &str) -> Vec<String> {
        let request = Request::new(document).operation_name(name);
        let response = futures_lite_block(schema.execute(request));
        response
            .errors
            .iter()
            .filter(|e| e.path.is_empty())
            .map(|e| e.message.clone())
            .collect()
    }

    #[test]
    fn a_document_that_does_not_match_the_schema_is_caught() {
        let schema = graphql::build(None);
        assert!(
            !validation_errors(&schema, "query Bad { myApprovals { nope } }", "Bad").is_empty()
        );
        assert!(!validation_errors(
            &schema,
            "mutation Bad($id: UUID!) { approveRegistration(id: $id, nope: 1) { position } }",
            "Bad"
        )
        .is_empty());
    }

    fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }
}
