//! What one request may cost, checked before anything runs, and what it
//! may hold while it runs, in one extension ([`Guard`]; one, because
//! async-graphql runs every field of a response through each extension in
//! turn):
//!
//! - the cost: every field counts 1 and a connection's selection counts
//!   once per item it may return (`first`, default 20), through fragments
//!   and spreads, each use counted (async-graphql's own complexity check
//!   counts neither `first` nor repeated spreads); aliases are counted the
//!   same way; a string argument holding a NUL character is refused,
//!   naming it;
//! - the budget: a query's time budget, a bounded share of the database
//!   pool for one request, and the request's vault loader;
//! - spans that name the operation and never record the document or its
//!   variables (they can hold personal values);
//! - a count of operations by name and outcome for `/metrics`;
//! - the parsed documents kept for reuse ([`crate::documents`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::documents::Documents;
use crate::pool_share::PoolShare;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextSubscribe, NextValidation,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{
    ErrorExtensions, Name, Positioned, Request, Response, ServerError, ServerResult,
    ValidationResult, Variables,
};
use async_graphql_value::{ConstValue, Value};
use futures::stream::BoxStream;

use tracing::Instrument;

use super::{ApiSettings, DEFAULT_PAGE};
use app::state::AppState;

/// Deepest fragment nesting followed (validation refuses cycles later; this
/// only keeps the walk finite before it).
const MAX_FRAGMENT_DEPTH: usize = 16;
/// Most selections a walk visits, fragments expanded (a fragment spread
/// several times inside another multiplies them).
const MAX_VISITS: usize = 20_000;

fn refusal(message: String, limit: &'static str) -> ServerError {
    async_graphql::Error::new(message)
        .extend_with(|_, e| {
            e.set("code", "BAD_USER_INPUT");
            e.set("limit", limit);
        })
        .into_server_error(async_graphql::Pos::default())
}

/// The tally of one walk.
#[derive(Default, Debug, PartialEq, Eq)]
pub(crate) struct Tally {
    pub cost: usize,
    pub aliases: usize,
}

struct Walk<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    tally: Tally,
    visits: usize,
}

impl Walk<'_> {
    /// Cost of a selection set taken once; aliases counted into the tally
    /// `times` times.
    fn set(&mut self, set: &SelectionSet, times: usize, depth: usize) -> ServerResult<usize> {
        let mut cost = 0usize;
        for item in &set.items {
            self.visits += 1;
            if self.visits > MAX_VISITS {
                return Err(refusal(
                    format!("the query expands to more than {MAX_VISITS} selections"),
                    "cost",
                ));
            }
            let add = match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    if f.alias.is_some() {
                        self.tally.aliases = self.tally.aliases.saturating_add(times);
                    }
                    for (name, value) in &f.arguments {
                        self.no_nul(&value.node, &format!("{}.{}", f.name.node, name.node))?;
                    }
                    let items = self.page(f);
                    let inner =
                        self.set(&f.selection_set.node, times.saturating_mul(items), depth)?;
                    1usize.saturating_add(inner.saturating_mul(items))
                }
                Selection::InlineFragment(f) => {
                    self.set(&f.node.selection_set.node, times, depth)?
                }
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    let fragments = self.fragments;
                    match fragments.get(name) {
                        Some(fragment) if depth < MAX_FRAGMENT_DEPTH => {
                            self.set(&fragment.node.selection_set.node, times, depth + 1)?
                        }
                        Some(_) => {
                            return Err(refusal(
                                format!("fragments nest deeper than {MAX_FRAGMENT_DEPTH}"),
                                "depth",
                            ))
                        }
                        // Unknown fragments are validation's to report.
                        None => 0,
                    }
                }
            };
            cost = cost.saturating_add(add);
        }
        Ok(cost)
    }

    /// How many items a field's selection is resolved for: its `first`
    /// (a literal or a variable), the default page for a connection without
    /// one, else 1.
    fn page(&self, field: &async_graphql::parser::types::Field) -> usize {
        let Some(first) = field.get_argument("first") else {
            let connection = field
                .selection_set
                .node
                .items
                .iter()
                .any(|s| matches!(&s.node, Selection::Field(f) if f.node.name.node == "edges"));
            return if connection { DEFAULT_PAGE as usize } else { 1 };
        };
        let value = match &first.node {
            Value::Variable(name) => self.variables.get(name).cloned(),
            other => other.clone().into_const(),
        };
        match value {
            Some(ConstValue::Number(n)) => n.as_u64().map_or(1, |n| n.clamp(1, 10_000) as usize),
            _ => DEFAULT_PAGE as usize,
        }
    }

    fn no_nul(&self, value: &Value, field: &str) -> ServerResult<()> {
        let found = match value {
            Value::String(s) => s.contains('\0'),
            Value::List(items) => {
                for v in items {
                    self.no_nul(v, field)?;
                }
                false
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.no_nul(v, &format!("{field}.{k}"))?;
                }
                false
            }
            _ => false,
        };
        if found {
            return Err(nul_error(field));
        }
        Ok(())
    }
}

fn nul_error(field: &str) -> ServerError {
    async_graphql::Error::new(format!(
        "{field}: contains a NUL character, which no value may hold"
    ))
    .extend_with(|_, e| {
        e.set("code", "BAD_USER_INPUT");
        e.set("field", field);
    })
    .into_server_error(async_graphql::Pos::default())
}

fn variables_nul(value: &ConstValue, path: &str) -> ServerResult<()> {
    use ConstValue as V;
    match value {
        V::String(s) if s.contains('\0') => Err(nul_error(path)),
        V::List(items) => items.iter().try_for_each(|v| variables_nul(v, path)),
        V::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| variables_nul(v, &format!("{path}.{k}"))),
        _ => Ok(()),
    }
}

/// The cost and aliases of `document` as executed with `variables`.
pub(crate) fn tally(document: &ExecutableDocument, variables: &Variables) -> ServerResult<Tally> {
    for (name, value) in variables.iter() {
        variables_nul(value, &format!("variables.{name}"))?;
    }
    let mut walk = Walk {
        fragments: &document.fragments,
        variables,
        tally: Tally::default(),
        visits: 0,
    };
    let mut cost = 0usize;
    for (_, op) in document.operations.iter() {
        cost = cost.saturating_add(walk.set(&op.node.selection_set.node, 1, 0)?);
    }
    walk.tally.cost = cost;
    Ok(walk.tally)
}

/// The one extension of the schema (see the module documentation).
pub struct Guard {
    /// Most cost.
    pub max_cost: usize,
    /// Most aliases.
    pub max_aliases: usize,
    /// A query's time budget.
    pub query_timeout: Duration,
    documents: Arc<Documents>,
}

impl Guard {
    /// A guard with these limits.
    pub fn new(max_cost: usize, max_aliases: usize, query_timeout: Duration) -> Self {
        Guard {
            max_cost,
            max_aliases,
            query_timeout,
            documents: Arc::new(Documents::default()),
        }
    }
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension {
            max_cost: self.max_cost,
            max_aliases: self.max_aliases,
            query_timeout: self.query_timeout,
            documents: self.documents.clone(),
            is_query: AtomicBool::new(false),
        })
    }
}

struct GuardExtension {
    max_cost: usize,
    max_aliases: usize,
    query_timeout: Duration,
    documents: Arc<Documents>,
    /// The document holds queries only (so its time budget applies).
    is_query: AtomicBool,
}

impl GuardExtension {
    fn check_cost(&self, document: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
        let Tally { cost, aliases } = tally(document, variables)?;
        if aliases > self.max_aliases {
            return Err(refusal(
                format!(
                    "the query uses {aliases} aliases; at most {} are allowed",
                    self.max_aliases
                ),
                "aliases",
            ));
        }
        if cost > self.max_cost {
            return Err(refusal(
                format!(
                    "the query would cost {cost} (each field 1, a list's fields once per item asked for with `first`); at most {} is allowed: ask for fewer fields or smaller pages",
                    self.max_cost
                ),
                "cost",
            ));
        }
        Ok(())
    }

    /// Run a query within its time budget (mutations are not cut short:
    /// one that committed must say so).
    async fn within_budget(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if !self.is_query.load(Ordering::Relaxed) {
            return next.run(ctx, operation_name).await;
        }
        match tokio::time::timeout(self.query_timeout, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(
                    budget_ms = self.query_timeout.as_millis() as u64,
                    "a query ran past its time budget and was stopped"
                );
                Response::from_errors(vec![refusal(
                    format!(
                        "the query ran longer than {} ms and was stopped: ask for fewer fields or smaller pages",
                        self.query_timeout.as_millis()
                    ),
                    "time",
                )])
            }
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        next.run(ctx)
            .instrument(tracing::info_span!("graphql.request"))
            .await
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        // Streams are not instrumented (tracing's `Instrument` is for
        // futures); each message's resolvers run in the socket's span.
        next.run(ctx, stream)
    }

    /// The request's parsed document, pool share and vault loader.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.documents.prepare(&mut request);
        if let Some(app) = ctx.data_opt::<AppState>() {
            let share = PoolShare::new(
                ctx.data_opt::<ApiSettings>()
                    .map_or(4, |s| s.connections_per_request),
            );
            request = request
                .data(super::vault_loader::loader(
                    app.vault.clone(),
                    share.clone(),
                ))
                .data(share);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        async {
            let document = next.run(ctx, query, variables).await?;
            self.check_cost(&document, variables)?;
            let only_queries = match &document.operations {
                DocumentOperations::Single(op) => op.node.ty == OperationType::Query,
                DocumentOperations::Multiple(ops) => {
                    ops.values().all(|op| op.node.ty == OperationType::Query)
                }
            };
            self.is_query.store(only_queries, Ordering::Relaxed);
            Ok(document)
        }
        .instrument(tracing::info_span!("graphql.parse"))
        .await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .instrument(tracing::info_span!("graphql.validate"))
            .await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let operation = crate::metrics::operation_label(operation_name);
        let response = self
            .within_budget(ctx, operation_name, next)
            .instrument(tracing::info_span!(
                "graphql.execute",
                graphql.operation = %operation
            ))
            .await;
        let outcome = if response.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        metrics::counter!("graphql_operations_total", "operation" => operation, "outcome" => outcome).increment(1);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost_of(query: &str) -> Tally {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        tally(&doc, &Variables::default()).unwrap()
    }

    #[test]
    fn a_list_costs_its_selection_once_per_item_asked_for() {
        let one = cost_of("{ registrations(first: 1) { edges { node { id } } } }");
        let hundred = cost_of("{ registrations(first: 100) { edges { node { id } } } }");
        assert_eq!(one.cost, 1 + 3);
        assert_eq!(hundred.cost, 1 + 300);
        let default = cost_of("{ registrations { edges { node { id } } } }");
        assert_eq!(default.cost, 1 + 60);
    }

    #[test]
    fn aliases_and_costs_in_fragments_count_at_every_spread() {
        let query = "
            query { a: registrations(first: 100) { ...page } b: registrations(first: 100) { ...page } }
            fragment page on RegistrationConnection { edges { node { ...contact } } }
            fragment contact on Registration { c1: businessContact { name } c2: businessContact { name } }";
        let t = cost_of(query);
        // 2 list aliases + 2 × 100 items × 2 contact aliases.
        assert_eq!(t.aliases, 2 + 2 * 100 * 2);
        // per list: 1 + 100 × (edges 1 + node 1 + 2 × (1 + name 1)).
        assert_eq!(t.cost, 2 * (1 + 100 * 6));
    }

    #[test]
    fn first_given_as_a_variable_is_counted() {
        let doc = async_graphql::parser::parse_query(
            "query($n: Int) { registrations(first: $n) { edges { node { id } } } }",
        )
        .unwrap();
        let vars = Variables::from_json(serde_json::json!({ "n": 50 }));
        assert_eq!(tally(&doc, &vars).unwrap().cost, 1 + 150);
    }

    #[test]
    fn a_nul_character_in_an_argument_or_variable_is_refused_naming_it() {
        let doc = async_graphql::parser::parse_query(
            r#"{ registrations(filter: { search: "a\u0000b" }) { edges { node { id } } } }"#,
        )
        .unwrap();
        let e = tally(&doc, &Variables::default()).unwrap_err();
        assert!(
            e.message.contains("registrations.filter.search"),
            "{}",
            e.message
        );
        let doc = async_graphql::parser::parse_query(
            "query($s: String!) { personalDataHeldFor(subject: $s) { subject } }",
        )
        .unwrap();
        let vars = Variables::from_json(serde_json::json!({ "s": "x\u{0}" }));
        let e = tally(&doc, &vars).unwrap_err();
        assert!(e.message.contains("variables.s"), "{}", e.message);
    }

    #[test]
    fn a_fragment_that_spreads_itself_ends_the_walk_with_an_error() {
        let doc =
            async_graphql::parser::parse_query("{ me { ...a } } fragment a on Me { subject ...a }")
                .unwrap();
        assert!(tally(&doc, &Variables::default()).is_err());
    }
}
