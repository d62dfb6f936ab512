//! The base URL a site is served from, and the image names it may hold.
//!
//! `https://example.com/images` serves names at or below `example.com/images` (on `/`
//! boundaries: not `example.com/imagesx`). The discovery page of a name `HOST/PATH` is fetched
//! from `https://HOST/PATH`, so only names under the base's host and path can be discovered from
//! this site; anything else is refused before a file is written.

use appc::name::AcIdentifier;

/// A checked base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: String,
    host_path: String,
}

/// Why a base URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("base URL {url:?}: {reason}")]
pub struct BadBaseUrl {
    /// The text given.
    pub url: String,
    /// The rule broken.
    pub reason: &'static str,
}

impl BaseUrl {
    /// Parses `https://HOST[:PORT][/PATH]` (or `http://`, for sites behind an insecure option);
    /// a trailing `/` is dropped. HOST/PATH must be an image name prefix (lower case, no query).
    pub fn parse(url: &str) -> Result<BaseUrl, BadBaseUrl> {
        let bad = |reason| BadBaseUrl {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| bad("must start with https:// (or http://)"))?;
        let rest = rest.trim_end_matches('/');
        if rest.contains(['?', '#', '@']) {
            return Err(bad("must not have a query, fragment or user"));
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = match authority.split_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                host
            }
            Some(_) => return Err(bad("port must be a number")),
            None => authority,
        };
        let host_path = if path.is_empty() {
            host.to_owned()
        } else {
            format!("{host}/{path}")
        };
        AcIdentifier::new(&host_path)
            .map_err(|_| bad("host and path must form an image name prefix (a-z, 0-9, -._~/)"))?;
        Ok(BaseUrl {
            url: url.trim_end_matches('/').to_owned(),
            host_path,
        })
    }

    /// The URL without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `HOST/PATH`: the prefix of every name this site serves.
    pub fn host_path(&self) -> &str {
        &self.host_path
    }

    /// The path of `name` below the base (`""` for the base itself), if it is at or below it.
    pub fn relative<'n>(&self, name: &'n str) -> Option<&'n str> {
        let rest = name.strip_prefix(&self.host_path)?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_prefix('/')
        }
    }

    /// The one `ac-discovery` template of the site.
    pub fn template(&self) -> String {
        format!("{}/{{name}}-{{version}}-{{os}}-{{arch}}.{{ext}}", self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_and_relative_names() {
        let b = BaseUrl::parse("https://example.com:8443/images/").unwrap();
        assert_eq!(b.as_str(), "https://example.com:8443/images");
        assert_eq!(b.host_path(), "example.com/images");
        assert_eq!(b.relative("example.com/images/app"), Some("app"));
        assert_eq!(b.relative("example.com/images"), Some(""));
        assert_eq!(b.relative("example.com/imagesx/app"), None);
        assert_eq!(b.relative("example.com/app"), None);
        assert_eq!(
            b.template(),
            "https://example.com:8443/images/{name}-{version}-{os}-{arch}.{ext}"
        );
    }

    #[test]
    fn refusals_and_their_controls() {
        for bad in [
            "ftp://example.com",
            "example.com",
            "https://Example.com",
            "https://example.com/a?x=1",
            "https://user@example.com",
            "https://example.com:x/a",
            "https://",
            "https://example.com/a//b",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "https://example.com",
            "http://example.com/a/b",
            "https://example.com:443/",
        ] {
            assert!(BaseUrl::parse(good).is_ok(), "{good}");
        }
    }
}
