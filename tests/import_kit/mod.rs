//! What tests/import*.rs share: fixture paths, import then export, the
//! exported entries by name.

#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cli_kit::Device;
use crate::common::spawn::Out;

/// The path of a fixture file.
pub fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Copies the fixture into the device's HOME (so messages name it short),
/// imports it with `args`, and returns the import's output and then
/// `vault export`'s entries.
pub fn import_and_export(
    d: &Device,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Out, Vec<Value>) {
    std::fs::copy(fixture(name), d.home.0.join(name)).unwrap();
    let mut all = vec!["import", name];
    all.extend_from_slice(args);
    let out = d.run_with(&all, env, None);
    (out, export(d))
}

/// `vault export`'s entries.
pub fn export(d: &Device) -> Vec<Value> {
    let out = d.run(&["export"]).ok();
    let v = out.json();
    assert_eq!(
        (v["format"].as_str(), v["version"].as_u64()),
        (Some("vault-export"), Some(2))
    );
    v["entries"].as_array().unwrap().clone()
}

/// name → (document, password).
pub fn by_name(entries: &[Value]) -> BTreeMap<String, (Value, String)> {
    entries
        .iter()
        .map(|e| {
            let doc = e["doc"].clone();
            (
                doc["name"].as_str().unwrap().to_owned(),
                (doc, e["password"].as_str().unwrap().to_owned()),
            )
        })
        .collect()
}

/// The entries without `created`/`updated` of items whose file had none
/// (those are the time of the import).
pub fn without_times(entries: &[Value]) -> Vec<Value> {
    entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["doc"].as_object_mut().unwrap().remove("created");
            e["doc"].as_object_mut().unwrap().remove("updated");
            e
        })
        .collect()
}

pub fn stderr_lines(out: &Out) -> Vec<&str> {
    out.stderr.lines().collect()
}
