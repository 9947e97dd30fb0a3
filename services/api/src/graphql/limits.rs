//! A limit async-graphql does not have built in: aliases per document
//! (many aliases of one expensive field multiply its cost).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, ServerResult, Variables};

/// Refuse documents with more than `.0` aliases.
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mut count = 0;
        for (_, op) in document.operations.iter() {
            count += aliases(&op.node.selection_set.node);
        }
        for fragment in document.fragments.values() {
            count += aliases(&fragment.node.selection_set.node);
        }
        if count > self.0 {
            let error = async_graphql::Error::new(format!(
                "the query uses {count} aliases; at most {} are allowed",
                self.0
            ))
            .extend_with(|_, e| {
                e.set("code", "BAD_USER_INPUT");
                e.set("limit", "aliases");
            });
            return Err(error.into_server_error(async_graphql::Pos::default()));
        }
        Ok(document)
    }
}

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Counts GraphQL operations by name and outcome for `/metrics`.
pub struct OperationMetrics;

impl ExtensionFactory for OperationMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationMetricsExtension)
    }
}

struct OperationMetricsExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for OperationMetricsExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        let response = next.run(ctx, operation_name).await;
        let outcome = if response.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        let operation = crate::metrics::operation_label(operation_name);
        crate::metrics::count(
            "graphql_operations_total",
            &[("operation", &operation), ("outcome", outcome)],
            1.0,
        );
        response
    }
}
