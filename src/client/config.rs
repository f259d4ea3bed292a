//! The client's settings: flags > environment > profile file > defaults.
//!
//! The profile file is `$XDG_CONFIG_HOME/vault/config.json`, else
//! `~/.config/vault/config.json`, and holds only a server URL, a username
//! and optionally `"strict": true` (see `vault --strict`) per profile, never
//! a secret:
//!
//! ```json
//! {"profiles": {"default": {"server": "http://pi.lan:8080", "username": "alice"},
//!               "work":    {"server": "http://10.0.0.5:8080", "username": "alice@work"}}}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The server used when nothing else says.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";
/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// One profile of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `vault --strict` for this profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// Where the profile file is, from `XDG_CONFIG_HOME` or `HOME`.
pub fn config_path() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = nonempty("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(x).join("vault").join("config.json"));
    }
    nonempty("HOME").map(|h| {
        PathBuf::from(h)
            .join(".config")
            .join("vault")
            .join("config.json")
    })
}

/// Reads profile `name` from `path`. A missing file, or a missing profile
/// when the name was not asked for explicitly, is an empty profile; a
/// malformed file, or an explicitly named profile that is absent, is an error.
pub fn load_profile(path: &Path, name: &str, explicit: bool) -> Result<Profile, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if explicit {
                Err(format!(
                    "no profile `{name}`: {} does not exist",
                    path.display()
                ))
            } else {
                Ok(Profile::default())
            };
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let file: File = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a valid vault config: {e}", path.display()))?;
    match file.profiles.get(name) {
        Some(p) => Ok(p.clone()),
        None if explicit => Err(format!("no profile `{name}` in {}", path.display())),
        None => Ok(Profile::default()),
    }
}

/// Sets profile `name` in the file at `path` (made if missing, other
/// profiles kept), written whole to a temporary file and renamed over it.
/// Mode 0600: it holds no secret, but says where and as whom one logs in.
pub fn save_profile(path: &Path, name: &str, profile: &Profile) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file: File = match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t)
            .map_err(|e| format!("{} is not a valid vault config: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    file.profiles.insert(name.to_owned(), profile.clone());
    let text = serde_json::to_string_pretty(&file).expect("a config serialises") + "\n";
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// The first present, non-empty value.
pub fn first_of(values: &[Option<String>]) -> Option<String> {
    values
        .iter()
        .flatten()
        .find(|v| !v.trim().is_empty())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles() {
        let dir = std::env::temp_dir().join(format!("vault-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        assert_eq!(
            load_profile(&path, "default", false).unwrap(),
            Profile::default()
        );
        assert!(load_profile(&path, "work", true).is_err());
        std::fs::write(
            &path,
            r#"{"profiles":{"default":{"server":"http://a:1"},"work":{"server":"http://b:2","username":"bob"}}}"#,
        )
        .unwrap();
        assert_eq!(
            load_profile(&path, "work", true).unwrap(),
            Profile {
                server: Some("http://b:2".into()),
                username: Some("bob".into()),
                strict: None,
            }
        );
        assert_eq!(
            load_profile(&path, "default", false)
                .unwrap()
                .server
                .as_deref(),
            Some("http://a:1")
        );
        assert!(load_profile(&path, "nope", true).is_err());
        assert_eq!(
            load_profile(&path, "nope", false).unwrap(),
            Profile::default()
        );
        std::fs::write(&path, r#"{"profiles":{"default":{"password":"x"}}}"#).unwrap();
        assert!(load_profile(&path, "default", false).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn precedence() {
        assert_eq!(
            first_of(&[None, Some("".into()), Some("b".into()), Some("c".into())]),
            Some("b".into())
        );
        assert_eq!(first_of(&[None, None]), None);
    }
}
