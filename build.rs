//! Build step of the web vault (src/web.rs): a gzip copy and an ETag of
//! every file under `web/`, written to OUT_DIR. Compressing here costs the
//! running server nothing: the copies are read-only data in the binary,
//! paged in only when a browser asks for them. No npm, no network.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

fn main() {
    let root = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("web");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("web");
    // A directory: cargo rebuilds when any file below it changes.
    println!("cargo:rerun-if-changed=web");
    let mut files = Vec::new();
    walk(&root, &mut files);
    for file in files {
        let relative = file.strip_prefix(&root).unwrap();
        let data = std::fs::read(&file).unwrap();
        let target = out.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&data).unwrap();
        write(&target, "gz", &gz.finish().unwrap());
        // A strong validator: the same bytes give the same tag on every build.
        let digest = Sha256::digest(&data);
        let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        write(&target, "etag", tag.as_bytes());
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Writes `<target>.<ext>` only when its content changed, so that an
/// unchanged file does not rebuild the crate.
fn write(target: &Path, ext: &str, bytes: &[u8]) {
    let mut name = target.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    let path = PathBuf::from(name);
    if std::fs::read(&path).ok().as_deref() != Some(bytes) {
        std::fs::write(&path, bytes).unwrap();
    }
}
