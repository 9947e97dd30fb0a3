//! Social media platforms and the normalisers that turn what people paste
//! into a canonical account key.
//!
//! Registration and verification both go through [`normalise`], so
//! `https://twitter.com/NorthCouncil?s=20`, `x.com/northcouncil/` and
//! `@NorthCouncil` are the same account. Scheme, case (where the platform
//! ignores it), `www.`/`m.`/`mobile.` hosts, trailing slashes, query strings
//! and fragments never change a key.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// A platform the registry knows how to normalise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// X, formerly Twitter.
    X,
    /// Facebook pages, profiles and groups.
    Facebook,
    /// Instagram.
    Instagram,
    /// YouTube channels.
    Youtube,
    /// LinkedIn company, showcase and member pages.
    Linkedin,
    /// TikTok.
    Tiktok,
    /// Threads.
    Threads,
    /// Bluesky (handle or DID).
    Bluesky,
    /// Mastodon and other fediverse servers.
    Mastodon,
    /// Flickr.
    Flickr,
    /// Pinterest.
    Pinterest,
    /// Nextdoor agency and business pages.
    Nextdoor,
    /// WhatsApp channels.
    Whatsapp,
    /// Any other website, blog or RSS feed, by URL.
    Website,
}

impl Platform {
    /// Every platform, in display order.
    pub const ALL: [Platform; 14] = [
        Platform::X,
        Platform::Facebook,
        Platform::Instagram,
        Platform::Youtube,
        Platform::Linkedin,
        Platform::Tiktok,
        Platform::Threads,
        Platform::Bluesky,
        Platform::Mastodon,
        Platform::Flickr,
        Platform::Pinterest,
        Platform::Nextdoor,
        Platform::Whatsapp,
        Platform::Website,
    ];

    /// The stable code used in keys and the API, e.g. `x`, `youtube`.
    pub fn code(self) -> &'static str {
        match self {
            Platform::X => "x",
            Platform::Facebook => "facebook",
            Platform::Instagram => "instagram",
            Platform::Youtube => "youtube",
            Platform::Linkedin => "linkedin",
            Platform::Tiktok => "tiktok",
            Platform::Threads => "threads",
            Platform::Bluesky => "bluesky",
            Platform::Mastodon => "mastodon",
            Platform::Flickr => "flickr",
            Platform::Pinterest => "pinterest",
            Platform::Nextdoor => "nextdoor",
            Platform::Whatsapp => "whatsapp",
            Platform::Website => "website",
        }
    }

    /// The name people know it by.
    pub fn display_name(self) -> &'static str {
        match self {
            Platform::X => "X (Twitter)",
            Platform::Facebook => "Facebook",
            Platform::Instagram => "Instagram",
            Platform::Youtube => "YouTube",
            Platform::Linkedin => "LinkedIn",
            Platform::Tiktok => "TikTok",
            Platform::Threads => "Threads",
            Platform::Bluesky => "Bluesky",
            Platform::Mastodon => "Mastodon",
            Platform::Flickr => "Flickr",
            Platform::Pinterest => "Pinterest",
            Platform::Nextdoor => "Nextdoor",
            Platform::Whatsapp => "WhatsApp channel",
            Platform::Website => "Website, blog or RSS feed",
        }
    }

    /// The platform with this code.
    pub fn from_code(code: &str) -> Option<Platform> {
        Platform::ALL
            .into_iter()
            .find(|p| p.code() == code.trim().to_ascii_lowercase())
    }

    /// The public URL of a canonical account on this platform.
    pub fn profile_url(self, handle: &str) -> String {
        match self {
            Platform::X => format!("https://x.com/{handle}"),
            Platform::Facebook => match handle.strip_prefix("id:") {
                Some(id) => format!("https://www.facebook.com/profile.php?id={id}"),
                None => match handle.strip_prefix("group:") {
                    Some(g) => format!("https://www.facebook.com/groups/{g}"),
                    None => format!("https://www.facebook.com/{handle}"),
                },
            },
            Platform::Instagram => format!("https://www.instagram.com/{handle}/"),
            Platform::Youtube => match handle.split_once(':') {
                Some((kind, id)) => format!("https://www.youtube.com/{kind}/{id}"),
                None => format!("https://www.youtube.com/{handle}"),
            },
            Platform::Linkedin => {
                let (kind, slug) = handle.split_once(':').unwrap_or(("company", handle));
                format!("https://www.linkedin.com/{kind}/{slug}/")
            }
            Platform::Tiktok => format!("https://www.tiktok.com/@{handle}"),
            Platform::Threads => format!("https://www.threads.net/@{handle}"),
            Platform::Bluesky => format!("https://bsky.app/profile/{handle}"),
            Platform::Mastodon => match handle.split_once('@') {
                Some((user, host)) => format!("https://{host}/@{user}"),
                None => handle.to_owned(),
            },
            Platform::Flickr => format!("https://www.flickr.com/photos/{handle}/"),
            Platform::Pinterest => format!("https://www.pinterest.com/{handle}/"),
            Platform::Nextdoor => match handle.split_once(':') {
                Some(("agency", rest)) => format!("https://nextdoor.com/agency-detail/{rest}/"),
                Some((_, rest)) => format!("https://nextdoor.com/pages/{rest}/"),
                None => format!("https://nextdoor.com/pages/{handle}/"),
            },
            Platform::Whatsapp => format!(
                "https://whatsapp.com/channel/{}",
                handle.strip_prefix("channel:").unwrap_or(handle)
            ),
            Platform::Website => format!("https://{handle}"),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The canonical identity of an account: platform and normalised handle.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountKey {
    /// The platform.
    pub platform: Platform,
    /// The normalised handle or id on it (see each normaliser).
    pub handle: String,
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform.code(), self.handle)
    }
}

impl AccountKey {
    /// The account's public URL.
    pub fn url(&self) -> String {
        self.platform.profile_url(&self.handle)
    }
}

/// Why an input is not an account of the chosen platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAnAccount(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, NotAnAccount> {
    Err(NotAnAccount(message.into()))
}

/// Normalise `input` as an account on `platform`.
pub fn normalise(platform: Platform, input: &str) -> Result<AccountKey, NotAnAccount> {
    let text = clean(input);
    if text.is_empty() {
        return refuse("is empty: paste the account's address or handle");
    }
    if text.len() > 500 {
        return refuse("is too long to be an account address (500 characters at most)");
    }
    let handle = match platform {
        Platform::X => simple_handle(&text, &["twitter.com", "x.com"], &X_RESERVED, x_handle, "X")?,
        Platform::Instagram => simple_handle(
            &text,
            &["instagram.com", "instagr.am"],
            &INSTAGRAM_RESERVED,
            instagram_handle,
            "Instagram",
        )?,
        Platform::Pinterest => pinterest(&text)?,
        Platform::Facebook => facebook(&text)?,
        Platform::Youtube => youtube(&text)?,
        Platform::Linkedin => linkedin(&text)?,
        Platform::Tiktok => at_handle(&text, &["tiktok.com"], tiktok_handle, "TikTok")?,
        Platform::Threads => at_handle(
            &text,
            &["threads.net", "threads.com"],
            instagram_handle,
            "Threads",
        )?,
        Platform::Bluesky => bluesky(&text)?,
        Platform::Mastodon => mastodon(&text)?,
        Platform::Flickr => flickr(&text)?,
        Platform::Nextdoor => nextdoor(&text)?,
        Platform::Whatsapp => whatsapp(&text)?,
        Platform::Website => website(&text)?,
    };
    Ok(AccountKey { platform, handle })
}

/// Every platform `input` could be an account of, for verification where
/// people paste without saying which platform. A URL names its platform by
/// its host; a bare `@handle` may be on several.
pub fn candidates(input: &str) -> Vec<AccountKey> {
    let text = clean(input);
    if let Some(url) = parse_url(&text) {
        let host = bare_host(&url);
        let specific: Vec<AccountKey> = Platform::ALL
            .into_iter()
            .filter(|p| !matches!(p, Platform::Website | Platform::Mastodon))
            .filter(|p| platform_hosts(*p).iter().any(|h| host_matches(&host, h)))
            .filter_map(|p| normalise(p, &text).ok())
            .collect();
        if !specific.is_empty() {
            return specific;
        }
        if let Ok(key) = normalise(Platform::Mastodon, &text) {
            return vec![key];
        }
        return normalise(Platform::Website, &text).into_iter().collect();
    }
    let mut keys: Vec<AccountKey> = Platform::ALL
        .into_iter()
        .filter(|p| !matches!(p, Platform::Website))
        .filter_map(|p| normalise(p, &text).ok())
        .collect();
    keys.dedup();
    keys
}

fn platform_hosts(p: Platform) -> &'static [&'static str] {
    match p {
        Platform::X => &["twitter.com", "x.com"],
        Platform::Facebook => &["facebook.com", "fb.com"],
        Platform::Instagram => &["instagram.com", "instagr.am"],
        Platform::Youtube => &["youtube.com"],
        Platform::Linkedin => &["linkedin.com"],
        Platform::Tiktok => &["tiktok.com"],
        Platform::Threads => &["threads.net", "threads.com"],
        Platform::Bluesky => &["bsky.app"],
        Platform::Flickr => &["flickr.com"],
        Platform::Pinterest => &["pinterest.com", "pinterest.co.uk"],
        Platform::Nextdoor => &["nextdoor.com", "nextdoor.co.uk"],
        Platform::Whatsapp => &["whatsapp.com"],
        Platform::Mastodon | Platform::Website => &[],
    }
}

fn clean(input: &str) -> String {
    input
        .trim()
        .trim_matches(|c: char| matches!(c, '<' | '>' | '"' | '\'' | '“' | '”'))
        .trim()
        .to_owned()
}

fn looks_like_url(text: &str) -> bool {
    text.contains("://") || text.starts_with("www.") || {
        let first = text.split('/').next().unwrap_or("");
        first.contains('.') && !first.starts_with('@') && text.contains('/')
    }
}

fn parse_url(text: &str) -> Option<Url> {
    if !looks_like_url(text) {
        return None;
    }
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    let url = Url::parse(&with_scheme).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// Lower-case host without `www.`, `m.`, `mobile.`, `web.`, `business.` or
/// a two-letter country prefix such as `uk.`.
fn bare_host(url: &Url) -> String {
    let mut host = url
        .host_str()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    loop {
        let stripped = ["www.", "m.", "mobile.", "web.", "business.", "touch."]
            .iter()
            .find_map(|p| host.strip_prefix(p).map(str::to_owned));
        match stripped {
            Some(rest) if rest.contains('.') => host = rest,
            _ => break,
        }
    }
    host
}

fn host_matches(host: &str, platform_host: &str) -> bool {
    host == platform_host
        || host
            .strip_suffix(platform_host)
            .and_then(|prefix| prefix.strip_suffix('.'))
            .is_some_and(|country| {
                country.len() == 2 && country.chars().all(|c| c.is_ascii_lowercase())
            })
}

fn segments(url: &Url) -> Vec<String> {
    url.path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn url_for(text: &str, hosts: &[&str], name: &str) -> Result<Option<Url>, NotAnAccount> {
    match parse_url(text) {
        None if looks_like_url(text) => refuse(format!("is not a valid web address for {name}")),
        None => Ok(None),
        Some(url) => {
            let host = bare_host(&url);
            if hosts.iter().any(|h| host_matches(&host, h)) {
                Ok(Some(url))
            } else {
                refuse(format!(
                    "is an address on {host}, not on {name} ({})",
                    hosts.join(", ")
                ))
            }
        }
    }
}

const X_RESERVED: [&str; 16] = [
    "home",
    "search",
    "i",
    "intent",
    "share",
    "hashtag",
    "explore",
    "settings",
    "login",
    "signup",
    "messages",
    "notifications",
    "compose",
    "tos",
    "privacy",
    "status",
];
const INSTAGRAM_RESERVED: [&str; 9] = [
    "p", "reel", "reels", "explore", "stories", "accounts", "direct", "tv", "about",
];

fn x_handle(h: &str) -> bool {
    (1..=15).contains(&h.len()) && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn instagram_handle(h: &str) -> bool {
    (1..=30).contains(&h.len())
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !h.starts_with('.')
        && !h.ends_with('.')
}

fn tiktok_handle(h: &str) -> bool {
    (2..=24).contains(&h.len())
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Platforms whose account is the first path segment or `@handle`.
fn simple_handle(
    text: &str,
    hosts: &[&str],
    reserved: &[&str],
    valid: fn(&str) -> bool,
    name: &str,
) -> Result<String, NotAnAccount> {
    let raw = match url_for(text, hosts, name)? {
        Some(url) => {
            let segs = segments(&url);
            let Some(first) = segs.first() else {
                return refuse(format!("is the {name} home page, not an account"));
            };
            first.trim_start_matches('@').to_owned()
        }
        None => text.trim_start_matches('@').to_owned(),
    };
    let handle = raw.to_ascii_lowercase();
    if reserved.contains(&handle.as_str()) {
        return refuse(format!("`{raw}` is a {name} page, not an account"));
    }
    if !valid(&raw) {
        return refuse(format!("`{raw}` is not a valid {name} handle"));
    }
    Ok(handle)
}

/// Platforms whose profile URLs are `/@handle` (TikTok, Threads).
fn at_handle(
    text: &str,
    hosts: &[&str],
    valid: fn(&str) -> bool,
    name: &str,
) -> Result<String, NotAnAccount> {
    let raw = match url_for(text, hosts, name)? {
        Some(url) => match segments(&url).first().and_then(|s| s.strip_prefix('@')) {
            Some(h) => h.to_owned(),
            None => {
                return refuse(format!(
                    "is not a {name} profile address (expected /@handle)"
                ))
            }
        },
        None => text.trim_start_matches('@').to_owned(),
    };
    if !valid(&raw) {
        return refuse(format!("`{raw}` is not a valid {name} handle"));
    }
    Ok(raw.to_ascii_lowercase())
}

fn pinterest(text: &str) -> Result<String, NotAnAccount> {
    simple_handle(
        text,
        platform_hosts(Platform::Pinterest),
        &["pin", "search", "ideas", "today", "business", "settings"],
        |h| (3..=30).contains(&h.len()) && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "Pinterest",
    )
}

fn facebook(text: &str) -> Result<String, NotAnAccount> {
    const RESERVED: [&str; 12] = [
        "sharer",
        "sharer.php",
        "watch",
        "events",
        "login",
        "photo.php",
        "story.php",
        "permalink.php",
        "home.php",
        "marketplace",
        "hashtag",
        "search",
    ];
    let valid_name = |h: &str| {
        (5..=50).contains(&h.len()) && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
    };
    let digits = |h: &str| !h.is_empty() && h.len() <= 20 && h.chars().all(|c| c.is_ascii_digit());
    let Some(url) = url_for(text, platform_hosts(Platform::Facebook), "Facebook")? else {
        let raw = text.trim_start_matches('@');
        if !valid_name(raw) {
            return refuse(format!("`{raw}` is not a valid Facebook page name"));
        }
        return Ok(raw.to_ascii_lowercase());
    };
    let segs = segments(&url);
    let first = segs.first().map(|s| s.to_ascii_lowercase());
    match first.as_deref() {
        None => refuse("is the Facebook home page, not an account"),
        Some("profile.php") => match url.query_pairs().find(|(k, _)| k == "id") {
            Some((_, id)) if digits(&id) => Ok(format!("id:{id}")),
            _ => refuse("is a profile.php address without a numeric id"),
        },
        Some("pages") | Some("people") => match segs.last() {
            Some(id) if digits(id) && segs.len() >= 2 => Ok(format!("id:{id}")),
            _ => refuse("is a Facebook pages address without the page's numeric id"),
        },
        Some("groups") => match segs.get(1) {
            Some(g) if digits(g) || valid_name(g) => {
                Ok(format!("group:{}", g.to_ascii_lowercase()))
            }
            _ => refuse("is not a Facebook group address"),
        },
        Some(name) if RESERVED.contains(&name) => {
            refuse(format!("`{name}` is a Facebook page, not an account"))
        }
        Some(name) if digits(name) => Ok(format!("id:{name}")),
        Some(name) if valid_name(name) => Ok(name.to_owned()),
        Some(name) => refuse(format!("`{name}` is not a valid Facebook page name")),
    }
}

fn youtube(text: &str) -> Result<String, NotAnAccount> {
    let handle_ok = |h: &str| {
        (3..=30).contains(&h.len())
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    };
    let channel_ok = |id: &str| {
        id.len() == 24
            && id.starts_with("UC")
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
    };
    let Some(url) = url_for(text, platform_hosts(Platform::Youtube), "YouTube")? else {
        if let Some(h) = text.strip_prefix('@') {
            if handle_ok(h) {
                return Ok(format!("@{}", h.to_ascii_lowercase()));
            }
            return refuse(format!("`{h}` is not a valid YouTube handle"));
        }
        if channel_ok(text) {
            return Ok(format!("channel:{text}"));
        }
        return refuse("is not a YouTube address, @handle or channel id (UC…)");
    };
    let segs = segments(&url);
    match (segs.first().map(String::as_str), segs.get(1)) {
        (Some(h), _) if h.starts_with('@') && handle_ok(&h[1..]) => Ok(h.to_ascii_lowercase()),
        (Some("channel"), Some(id)) if channel_ok(id) => Ok(format!("channel:{id}")),
        (Some("c"), Some(name)) if handle_ok(name) => {
            Ok(format!("c:{}", name.to_ascii_lowercase()))
        }
        (Some("user"), Some(name)) if handle_ok(name) => {
            Ok(format!("user:{}", name.to_ascii_lowercase()))
        }
        (Some("watch" | "shorts" | "playlist" | "results" | "live"), _) => {
            refuse("is a YouTube video or playlist, not a channel")
        }
        _ => refuse(
            "is not a YouTube channel address (/@handle, /channel/UC…, /c/name or /user/name)",
        ),
    }
}

fn linkedin(text: &str) -> Result<String, NotAnAccount> {
    let Some(url) = url_for(text, platform_hosts(Platform::Linkedin), "LinkedIn")? else {
        return refuse("must be a LinkedIn address, e.g. linkedin.com/company/north-council");
    };
    let segs = segments(&url);
    let slug_ok = |s: &str| {
        (2..=100).contains(&s.len()) && s.chars().all(|c| c.is_alphanumeric() || "-_".contains(c))
    };
    match (segs.first().map(|s| s.to_ascii_lowercase()), segs.get(1)) {
        (Some(kind), Some(slug))
            if ["company", "in", "showcase", "school"].contains(&kind.as_str())
                && slug_ok(slug) =>
        {
            Ok(format!("{kind}:{}", slug.to_lowercase()))
        }
        _ => refuse("is not a LinkedIn company, showcase, school or member page address"),
    }
}

fn bluesky(text: &str) -> Result<String, NotAnAccount> {
    let raw = match url_for(text, platform_hosts(Platform::Bluesky), "Bluesky")? {
        Some(url) => {
            let segs = segments(&url);
            match (segs.first().map(String::as_str), segs.get(1)) {
                (Some("profile"), Some(id)) => id.clone(),
                _ => return refuse("is not a Bluesky profile address (bsky.app/profile/…)"),
            }
        }
        None => text.trim_start_matches('@').to_owned(),
    };
    let lower = raw.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("did:") {
        let ok = rest.split_once(':').is_some_and(|(method, id)| {
            ["plc", "web"].contains(&method)
                && !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:_".contains(c))
        });
        return if ok {
            Ok(lower)
        } else {
            refuse(format!("`{raw}` is not a valid Bluesky DID"))
        };
    }
    let labels: Vec<&str> = lower.split('.').collect();
    let ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(lower)
    } else {
        refuse(format!(
            "`{raw}` is not a Bluesky handle (e.g. northcouncil.bsky.social) or DID"
        ))
    }
}

fn mastodon(text: &str) -> Result<String, NotAnAccount> {
    let user_ok = |u: &str| {
        (1..=30).contains(&u.len()) && u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let host_ok = |h: &str| {
        h.contains('.')
            && h.split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    };
    if let Some(url) = parse_url(text) {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let segs = segments(&url);
        let user = match (segs.first().map(String::as_str), segs.get(1)) {
            (Some(s), _) if s.starts_with('@') => s[1..].to_owned(),
            (Some("users"), Some(u)) => u.clone(),
            _ => return refuse("is not a Mastodon profile address (https://server/@user)"),
        };
        // A profile on another server, shown through this one: /@user@other.server
        let (user, host) = match user.split_once('@') {
            Some((u, h)) => (u.to_owned(), h.to_ascii_lowercase()),
            None => (user, host),
        };
        if user_ok(&user) && host_ok(&host) {
            return Ok(format!("{}@{host}", user.to_ascii_lowercase()));
        }
        return refuse("is not a valid Mastodon profile address");
    }
    match text.trim_start_matches('@').split_once('@') {
        Some((user, host)) if user_ok(user) && host_ok(host) => Ok(format!(
            "{}@{}",
            user.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        )),
        _ => refuse("must be @user@server or a profile address (https://server/@user)"),
    }
}

fn flickr(text: &str) -> Result<String, NotAnAccount> {
    let valid = |u: &str| {
        (2..=50).contains(&u.len())
            && u.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-@".contains(c))
    };
    let raw = match url_for(text, platform_hosts(Platform::Flickr), "Flickr")? {
        Some(url) => {
            let segs = segments(&url);
            match (segs.first().map(String::as_str), segs.get(1)) {
                (Some("photos" | "people"), Some(user))
                    if !["tags", "upload"].contains(&user.as_str()) =>
                {
                    user.clone()
                }
                _ => return refuse("is not a Flickr account address (flickr.com/photos/<user>)"),
            }
        }
        None => text.trim_start_matches('@').to_owned(),
    };
    if valid(&raw) {
        Ok(raw.to_ascii_lowercase())
    } else {
        refuse(format!("`{raw}` is not a valid Flickr user name or id"))
    }
}

fn nextdoor(text: &str) -> Result<String, NotAnAccount> {
    let Some(url) = url_for(text, platform_hosts(Platform::Nextdoor), "Nextdoor")? else {
        return refuse("must be a Nextdoor page address, e.g. nextdoor.co.uk/agency-detail/…");
    };
    let segs: Vec<String> = segments(&url)
        .into_iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let slug_ok = |s: &String| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    };
    match segs.split_first() {
        Some((kind, rest))
            if kind == "agency-detail" && !rest.is_empty() && rest.iter().all(slug_ok) =>
        {
            Ok(format!("agency:{}", rest.join("/")))
        }
        Some((kind, rest)) if kind == "pages" && rest.len() == 1 && slug_ok(&rest[0]) => {
            Ok(format!("page:{}", rest[0]))
        }
        _ => refuse("is not a Nextdoor agency or business page address"),
    }
}

fn whatsapp(text: &str) -> Result<String, NotAnAccount> {
    let id_ok =
        |id: &str| (10..=40).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric());
    let Some(url) = url_for(text, platform_hosts(Platform::Whatsapp), "WhatsApp")? else {
        return refuse("must be a WhatsApp channel address (whatsapp.com/channel/…)");
    };
    let segs = segments(&url);
    match (segs.first().map(String::as_str), segs.get(1)) {
        (Some("channel"), Some(id)) if id_ok(id) => Ok(format!("channel:{id}")),
        _ => refuse(
            "is not a WhatsApp channel address (chats and phone numbers cannot be registered)",
        ),
    }
}

fn website(text: &str) -> Result<String, NotAnAccount> {
    let Some(url) = parse_url(text).or_else(|| {
        // A bare domain such as `northcouncil.gov.uk`.
        (!text.contains(' ') && text.contains('.'))
            .then(|| Url::parse(&format!("https://{text}")).ok())
            .flatten()
    }) else {
        return refuse("must be a web address (https://…)");
    };
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    if !host.contains('.') {
        return refuse("must be a public web address with a domain name");
    }
    let path = url.path().trim_end_matches('/');
    Ok(format!("{host}{path}"))
}

pub mod permanent;

#[cfg(test)]
mod tests;
