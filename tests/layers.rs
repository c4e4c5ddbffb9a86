//! The floor plan (ARCHITECTURE.md, DESIGN.md §1): each layer imports only the layers it
//! stands on. This reads every source file of a layer and fails on a `crate::<module>` path to
//! a module the layer may not use (comments and the test module at the end of a file aside:
//! a store test may build its data through `ops`).

use std::collections::BTreeMap;
use std::path::Path;

/// Each layer and what it may use besides itself.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("model", &["domain"]),
    ("store", &["domain", "model"]),
    ("ops", &["domain", "model", "store"]),
    // The wire formats know nothing that opens the database.
    ("wire", &["domain", "model"]),
    // The implementations know no wire format.
    ("functions", &["domain", "model", "store", "ops"]),
    // The HTTP client toward the Moodle site behind the endpoint, and the sync.
    ("upstream", &["domain", "model", "store", "ops"]),
    ("endpoint", &["domain", "model", "store", "ops", "wire", "functions", "upstream"]),
    ("console", &["domain", "model", "store", "ops", "wire", "functions", "upstream"]),
    ("cli", &["domain", "model", "store", "ops", "wire", "functions", "upstream", "endpoint", "console", "serve"]),
];

/// The top-level modules a file names through `crate::` paths, outside comments and the
/// `#[cfg(test)]` module.
fn imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in source.lines() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let code = code.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::X, b}`: every top-level name in the group.
                let inside = group.split('}').next().unwrap_or_default();
                found.extend(inside.split(',').filter_map(|p| module_name(p.trim())));
            } else if let Some(m) = module_name(rest) {
                found.push(m);
            }
        }
    }
    found
}

fn module_name(path: &str) -> Option<String> {
    let name: String = path.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every breach: file, the module it imports, and the layer's allowance.
fn breaches(src: &Path) -> Vec<String> {
    let mut breaches = Vec::new();
    for (layer, allowed) in LAYERS {
        let mut files = Vec::new();
        let folder = src.join(layer);
        sources(&folder, &mut files);
        let single = src.join(format!("{layer}.rs"));
        if single.exists() {
            files.push(single);
        }
        assert!(!files.is_empty(), "no sources for layer {layer}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for module in imports(&text) {
                if module != *layer && !allowed.contains(&module.as_str()) {
                    breaches.push(format!("{}: {layer} imports crate::{module}", file.display()));
                }
            }
        }
    }
    breaches
}

#[test]
fn no_layer_imports_one_above_or_beside_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = breaches(&src);
    assert!(found.is_empty(), "layering breaches:\n{}", found.join("\n"));
}

#[test]
fn every_layer_module_of_the_crate_is_in_the_plan() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let planned: Vec<&str> = LAYERS.iter().map(|(l, _)| *l).collect();
    // The allocator set-up and `serve` (the endpoint's start, run by main) are not layers.
    let outside = ["allocator", "serve"];
    let mut declared = BTreeMap::new();
    for line in lib.lines() {
        if let Some(name) = line.trim().strip_prefix("pub mod ").and_then(|r| r.strip_suffix(';')) {
            declared.insert(name.to_string(), planned.contains(&name) || outside.contains(&name));
        }
    }
    let missing: Vec<_> = declared.iter().filter(|(_, known)| !**known).map(|(m, _)| m.clone()).collect();
    assert!(missing.is_empty(), "modules with no place in the layer table: {missing:?}");
}

#[test]
fn the_check_sees_a_breach() {
    // A file of the wire layer that reaches the store, in each form a path can take.
    let dir = tempfile::tempdir().unwrap();
    let wire = dir.path().join("wire");
    std::fs::create_dir_all(&wire).unwrap();
    for (layer, _) in LAYERS {
        std::fs::create_dir_all(dir.path().join(layer)).unwrap();
        std::fs::write(dir.path().join(layer).join("mod.rs"), "use crate::domain::X;\n").unwrap();
    }
    std::fs::write(
        wire.join("bad.rs"),
        "// crate::ops in a comment is fine\nuse crate::{model::value::Value, store::Store};\nfn f() { crate::ops::Ops::new(); }\n#[cfg(test)]\nmod tests { use crate::endpoint; }\n",
    )
    .unwrap();
    let found = breaches(dir.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().any(|b| b.ends_with("wire imports crate::store")), "{found:?}");
    assert!(found.iter().any(|b| b.ends_with("wire imports crate::ops")), "{found:?}");
    // `domain` itself imports nothing above it.
    assert!(!found.iter().any(|b| b.contains("domain imports")));
}
