//! Finding entries by what the user remembers: `vault search TERM` (names,
//! usernames, URLs, folders; substring, then fuzzy) and `vault get` by URL
//! or by an unambiguous part of a name.

use super::Summary;
use super::crypto::normalise_site;

/// How well an entry matches a search term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    /// The term's letters appear in order (e.g. `gthb` in `github.com`).
    Fuzzy,
    /// The term is inside the name, username, a URL or the folder.
    Substring,
}

/// Every chunk of text search looks at, normalised like site names.
fn haystacks(s: &Summary) -> Vec<String> {
    let d = &s.doc;
    let mut v = vec![normalise_site(&d.name)];
    v.extend(d.username.iter().map(|u| normalise_site(u)));
    v.extend(d.urls.iter().map(|u| normalise_site(u)));
    v.extend(d.folder.iter().map(|f| normalise_site(f)));
    v
}

fn is_subsequence(needle: &str, hay: &str) -> bool {
    let mut hay = hay.chars();
    needle.chars().all(|c| hay.any(|h| h == c))
}

/// How `s` matches `term`, if at all.
pub fn matches(s: &Summary, term: &str) -> Option<Match> {
    let term = normalise_site(term);
    if term.is_empty() {
        return None;
    }
    let hay = haystacks(s);
    if hay.iter().any(|h| h.contains(&term)) {
        Some(Match::Substring)
    } else if hay.iter().any(|h| is_subsequence(&term, h)) {
        Some(Match::Fuzzy)
    } else {
        None
    }
}

/// The entries matching `term`: substring matches first, then fuzzy,
/// each group in the listing's order.
pub fn search<'a>(entries: &'a [Summary], term: &str) -> Vec<&'a Summary> {
    let mut hits: Vec<(Match, &Summary)> = entries
        .iter()
        .filter_map(|s| matches(s, term).map(|m| (m, s)))
        .collect();
    hits.sort_by_key(|h| std::cmp::Reverse(h.0));
    hits.into_iter().map(|(_, s)| s).collect()
}

/// The host of a URL (`https://user@Host:8443/path` → `host`), or of a bare
/// `host/path`; lowercase, without a leading `www.`.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.trim().split_once("://").map_or(url.trim(), |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next()?
    } else {
        host.split(':').next()?
    };
    let host = host.to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (!host.is_empty()).then_some(host)
}

/// Whether `query` looks like a URL rather than a name.
pub fn is_url(query: &str) -> bool {
    query.contains("://")
}

/// The entries `vault get QUERY` may mean, when QUERY is not an entry's
/// name: for a URL, entries whose URLs or name have its host (or a parent
/// domain of it); else entries whose name contains QUERY.
pub fn candidates<'a>(entries: &'a [Summary], query: &str) -> Vec<&'a Summary> {
    if is_url(query) {
        let Some(host) = host_of(query) else {
            return Vec::new();
        };
        let fits = |h: &str| host == h || host.ends_with(&format!(".{h}"));
        return entries
            .iter()
            .filter(|s| {
                s.doc
                    .urls
                    .iter()
                    .filter_map(|u| host_of(u))
                    .any(|h| fits(&h))
                    || host_of(&s.doc.name).is_some_and(|h| fits(&h))
            })
            .collect();
    }
    let q = normalise_site(query);
    entries
        .iter()
        .filter(|s| !q.is_empty() && normalise_site(&s.doc.name).contains(&q))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::entry::Doc;

    fn summary(name: &str, urls: &[&str]) -> Summary {
        let mut doc = Doc::new("login", name);
        doc.urls = urls.iter().map(|u| u.to_string()).collect();
        Summary {
            doc,
            version: 1,
            updated_at: String::new(),
            format: 2,
            wire_site: String::new(),
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(
            host_of("https://bob@Shop.Example.net:8443/cart").as_deref(),
            Some("shop.example.net")
        );
        assert_eq!(
            host_of("https://www.github.com/login").as_deref(),
            Some("github.com")
        );
        assert_eq!(
            host_of("git.example.com/path").as_deref(),
            Some("git.example.com")
        );
        assert_eq!(host_of("https://").as_deref(), None);
    }

    #[test]
    fn urls_partial_names_and_fuzzy() {
        let all = [
            summary("GitHub", &["https://github.com/login"]),
            summary("gitlab.com", &[]),
            summary("Bank", &["https://online.bank.example/"]),
        ];
        let names = |v: Vec<&Summary>| v.iter().map(|s| s.site().to_owned()).collect::<Vec<_>>();
        assert_eq!(
            names(candidates(&all, "https://gist.github.com/x")),
            ["GitHub"]
        );
        assert_eq!(
            names(candidates(&all, "https://gitlab.com/")),
            ["gitlab.com"]
        );
        assert_eq!(
            names(candidates(&all, "https://www.online.bank.example/a")),
            ["Bank"]
        );
        assert_eq!(names(candidates(&all, "git")), ["GitHub", "gitlab.com"]);
        assert_eq!(names(candidates(&all, "BAN")), ["Bank"]);
        assert_eq!(names(search(&all, "bank.example")), ["Bank"]);
        assert_eq!(names(search(&all, "gthb")), ["GitHub"]);
        assert_eq!(names(search(&all, "lab")), ["gitlab.com"]);
        assert!(search(&all, "zzz").is_empty());
    }
}
