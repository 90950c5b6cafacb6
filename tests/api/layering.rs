//! Dependencies point one way: `graphql/` -> `services/` -> `entities/`, `db`, `auth`.
//! Business rules, data shapes and authentication know nothing of the API layer, so they
//! can serve a CLI, a job or another API unchanged.

use std::fs;
use std::path::{Path, PathBuf};

/// The layers below `graphql/`.
const LOWER_LAYERS: [&str; 3] = ["src/services", "src/entities", "src/auth"];

/// What a lower layer must not mention: the API layer or the GraphQL library.
const FORBIDDEN: [&str; 2] = ["crate::graphql", "async_graphql"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Every `file:line: text` of `source` that mentions a forbidden name.
fn violations(file: &str, source: &str) -> Vec<String> {
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| FORBIDDEN.iter().any(|f| line.contains(f)))
        .map(|(i, line)| format!("{file}:{}: {}", i + 1, line.trim()))
        .collect()
}

#[test]
fn layering_detector_flags_api_imports() {
    assert_eq!(
        violations("x.rs", "use crate::graphql::types::Foo;\nfn f() {}\n").len(),
        1
    );
    assert_eq!(
        violations("x.rs", "use async_graphql::MaybeUndefined;").len(),
        1
    );
    assert!(violations("x.rs", "use crate::services::patch::Patch;").is_empty());
}

#[test]
fn services_entities_and_auth_do_not_import_the_api_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for layer in LOWER_LAYERS {
        let mut files = Vec::new();
        rust_files(&root.join(layer), &mut files);
        assert!(!files.is_empty(), "no Rust files found under {layer}");
        for file in files {
            let source = fs::read_to_string(&file).unwrap();
            let name = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            found.extend(violations(&name, &source));
        }
    }
    assert!(
        found.is_empty(),
        "services/, entities/ and auth/ must not depend on graphql/ or async-graphql; \
         convert in graphql/ instead:\n{}",
        found.join("\n")
    );
}
