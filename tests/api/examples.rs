//! The documented example operations in `examples/*.graphql` stay valid against the schema.
//! Each operation is parsed and then validated by the real schema (depth and complexity
//! limits included) with execution switched off, so nothing runs and nothing is written.

use std::path::PathBuf;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::parser::{parse_query, types::DocumentOperations};
use async_graphql::{Request, Response, ServerError};

/// Stops every request after validation: the operation is parsed and checked against the
/// schema, but no resolver runs.
struct ValidateOnly;

impl ExtensionFactory for ValidateOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidateOnly)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ValidateOnly {
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> Response {
        Response::new(async_graphql::Value::Null)
    }
}

/// The names of the operations in a document (`None` for a lone anonymous one).
fn operations(source: &str) -> Result<Vec<Option<String>>, String> {
    let doc = parse_query(source).map_err(|e| e.to_string())?;
    Ok(match doc.operations {
        DocumentOperations::Single(_) => vec![None],
        DocumentOperations::Multiple(ops) => {
            let mut names: Vec<Option<String>> = ops.keys().map(|n| Some(n.to_string())).collect();
            names.sort();
            names
        }
    })
}

/// The parse and validation errors of one operation of a document.
async fn validation_errors(source: &str, operation: Option<&str>) -> Vec<ServerError> {
    let schema = rft_users::graphql::build_schema_bare()
        .extension(ValidateOnly)
        .finish();
    let mut request = Request::new(source);
    if let Some(name) = operation {
        request = request.operation_name(name);
    }
    schema.execute(request).await.errors
}

fn example_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_example_operation_is_valid_against_the_schema() {
    let files = example_files();
    assert!(
        files.len() >= 3,
        "expected at least 3 examples/*.graphql files, found {files:?}"
    );
    let mut problems = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        let ops = match operations(&source) {
            Ok(ops) => ops,
            Err(e) => {
                problems.push(format!("{}: does not parse: {e}", file.display()));
                continue;
            }
        };
        assert!(!ops.is_empty(), "{}: no operations", file.display());
        for op in &ops {
            for err in validation_errors(&source, op.as_deref()).await {
                problems.push(format!(
                    "{} {}: {} at {:?}",
                    file.display(),
                    op.as_deref().unwrap_or("(anonymous)"),
                    err.message,
                    err.locations
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "invalid examples:\n{}",
        problems.join("\n")
    );
}

#[tokio::test]
async fn the_example_checker_rejects_invalid_operations_and_runs_nothing() {
    // Invalid against the schema: each must be reported.
    for bad in [
        "query Broken { courses { noSuchField } }",
        "mutation Broken { createBooking(input: { sessionId: \"x\" }) { id } }",
        "query Broken($id: UUID!) { courseSession(id: $id) { attendees { salary } } }",
        "query Broken { courses { id }",
    ] {
        assert!(
            !validation_errors(bad, Some("Broken")).await.is_empty(),
            "not reported: {bad}"
        );
    }
    assert!(operations("query Broken { courses { id }").is_err());
    // Valid ones pass without running: resolvers would need the application state this
    // schema does not have, and variables are not needed to validate.
    for good in [
        "query Fine { courses { id name price } }",
        "mutation Fine($input: CreateBookingInput!) { createBooking(input: $input) { id reference } }",
    ] {
        let errors = validation_errors(good, Some("Fine")).await;
        assert!(errors.is_empty(), "{good}: {errors:?}");
    }
}
