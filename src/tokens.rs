//! API tokens and what each may do.
//!
//! A token has scopes: `ingest` (send spans, `POST /v1/traces`), `gate` (ask the gates),
//! `read` (history, SLO status, backtests, the status pages) and `admin` (reload the
//! definitions; it includes every other scope). Tokens of `auth.token_files` and
//! `SLOGATE_API_TOKENS` hold every scope, as before scopes existed; `auth.scoped_tokens` gives
//! a file's tokens only the scopes listed, so an OTLP exporter's token cannot call the gates,
//! and Argo's cannot reload.
//!
//! Tokens are compared in constant time (the time taken does not depend on how much of a
//! guess is right), against every configured token, so a second token can be rolled in before
//! the first is removed. `Debug` counts them and never prints one.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::config::ConfigError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send spans (`POST /v1/traces`).
    Ingest,
    /// Ask the canary, SLO and Flagger gates.
    Gate,
    /// Read history, SLO status, backtests, and open the status pages.
    Read,
    /// Reload the definitions; includes every other scope.
    Admin,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Ingest => "ingest",
            Scope::Gate => "gate",
            Scope::Read => "read",
            Scope::Admin => "admin",
        })
    }
}

/// One file of tokens with the scopes they hold (`auth.scoped_tokens`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopedTokenFile {
    /// Tokens, one per line (a mounted Kubernetes Secret).
    pub file: PathBuf,
    /// What they may do.
    pub scopes: Vec<Scope>,
}

/// One token and its scopes.
#[derive(Clone)]
struct ApiToken {
    secret: String,
    scopes: Vec<Scope>,
}

/// Why a presented token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No configured token matches: 401.
    Unknown,
    /// A valid token without the scope the route needs: 403.
    MissingScope(Scope),
}

/// The configured tokens. Empty: no authentication (loopback, or explicitly allowed).
#[derive(Clone, Default)]
pub struct Tokens(Vec<ApiToken>);

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} configured", self.0.len())
    }
}

/// Shortest token accepted: guessing 16 random characters is out of reach.
const MIN_TOKEN_LEN: usize = 16;

impl Tokens {
    /// Reads the tokens: `all_scopes` files and `env` (comma-separated) with every scope,
    /// `scoped` files with theirs. Each file must hold a token; each token at least 16
    /// characters. Errors name the setting.
    pub fn read(
        all_scopes: &[PathBuf],
        scoped: &[ScopedTokenFile],
        env: Option<&str>,
    ) -> Result<Tokens, ConfigError> {
        let every = vec![Scope::Admin];
        let mut tokens = Vec::new();
        let files = all_scopes
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("auth.token_files[{i}]"), f, &every))
            .chain(
                scoped
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("auth.scoped_tokens[{i}].file"), &s.file, &s.scopes)),
            );
        for (setting, file, scopes) in files {
            if scopes.is_empty() {
                return Err(invalid(
                    &setting.replace(".file", ".scopes"),
                    "lists no scope: give one or more of ingest, gate, read, admin",
                ));
            }
            let text = std::fs::read_to_string(file)
                .map_err(|e| invalid(&setting, format!("{}: {e}", file.display())))?;
            let before = tokens.len();
            tokens.extend(lines(&text).map(|secret| ApiToken {
                secret,
                scopes: scopes.clone(),
            }));
            if tokens.len() == before {
                return Err(invalid(
                    &setting,
                    format!("{} holds no token", file.display()),
                ));
            }
        }
        if let Some(env) = env {
            tokens.extend(
                env.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| ApiToken {
                        secret: t.to_string(),
                        scopes: every.clone(),
                    }),
            );
        }
        if let Some(short) = tokens.iter().find(|t| t.secret.len() < MIN_TOKEN_LEN) {
            return Err(invalid(
                "auth",
                format!(
                    "a token of {} characters is too short to resist guessing; use at least \
                     {MIN_TOKEN_LEN} (e.g. openssl rand -hex 32)",
                    short.secret.len()
                ),
            ));
        }
        Ok(Tokens(tokens))
    }

    /// Tokens with every scope (tests and embedders).
    pub fn all_scopes(secrets: impl IntoIterator<Item = String>) -> Tokens {
        Tokens(
            secrets
                .into_iter()
                .map(|secret| ApiToken {
                    secret,
                    scopes: vec![Scope::Admin],
                })
                .collect(),
        )
    }

    /// No token configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `presented` is a token holding `scope`: its index among the configured tokens
    /// (the key of its rate limit). Every token is compared (no early exit), so timing does not
    /// tell which one nearly matched.
    pub fn check(&self, presented: &str, scope: Scope) -> Result<usize, Refusal> {
        let mut matched: Option<(usize, &ApiToken)> = None;
        for (i, token) in self.0.iter().enumerate() {
            if constant_time_eq(token.secret.as_bytes(), presented.as_bytes()) {
                matched = Some((i, token));
            }
        }
        let (index, token) = matched.ok_or(Refusal::Unknown)?;
        if token.scopes.contains(&Scope::Admin) || token.scopes.contains(&scope) {
            Ok(index)
        } else {
            Err(Refusal::MissingScope(scope))
        }
    }

    /// Whether some configured token with `scope` has `fingerprint(secret) == fingerprint`
    /// (a sign-in session remembers its token only by a hash).
    pub fn any_with(&self, scope: Scope, fingerprint: impl Fn(&str) -> bool) -> bool {
        self.0.iter().any(|t| {
            (t.scopes.contains(&Scope::Admin) || t.scopes.contains(&scope))
                && fingerprint(&t.secret)
        })
    }
}

fn lines(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
}

fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_string(),
        message: message.into(),
    }
}

/// Equality whose running time depends only on the lengths.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut difference = expected.len() ^ presented.len();
    for (i, e) in expected.iter().enumerate() {
        // Compare against the presented byte at the same place, or 0 past its end: the loop
        // always runs over the whole expected token.
        let p = presented.get(i).copied().unwrap_or(0);
        difference |= usize::from(e ^ p);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_equal() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-token", b"secret-tokem"));
        assert!(!constant_time_eq(b"secret-token", b"secret-token-and-more"));
        assert!(!constant_time_eq(b"secret-token", b"secret"));
        assert!(!constant_time_eq(b"secret-token", b""));
    }

    #[test]
    fn a_scoped_token_opens_its_scopes_only_and_unscoped_ones_open_everything() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let all = write("all", "all-scopes-token-0001\n");
        let otel = write("otel", "\n otel-ingest-token-0001 \n");
        let argo = write("argo", "argo-gate-token-00001\nargo-gate-token-00002\n");
        let tokens = Tokens::read(
            &[all],
            &[
                ScopedTokenFile {
                    file: otel,
                    scopes: vec![Scope::Ingest],
                },
                ScopedTokenFile {
                    file: argo,
                    scopes: vec![Scope::Gate, Scope::Read],
                },
            ],
            Some("env-token-0123456789,"),
        )
        .unwrap();
        assert_eq!(tokens.len(), 5);
        for scope in [Scope::Ingest, Scope::Gate, Scope::Read, Scope::Admin] {
            assert_eq!(tokens.check("all-scopes-token-0001", scope), Ok(0));
            assert_eq!(tokens.check("env-token-0123456789", scope), Ok(4));
        }
        assert_eq!(tokens.check("otel-ingest-token-0001", Scope::Ingest), Ok(1));
        assert_eq!(
            tokens.check("otel-ingest-token-0001", Scope::Gate),
            Err(Refusal::MissingScope(Scope::Gate))
        );
        assert_eq!(tokens.check("argo-gate-token-00002", Scope::Read), Ok(3));
        assert_eq!(
            tokens.check("argo-gate-token-00001", Scope::Admin),
            Err(Refusal::MissingScope(Scope::Admin))
        );
        assert_eq!(
            tokens.check("nobody-knows-this-token", Scope::Read),
            Err(Refusal::Unknown)
        );
        assert_eq!(format!("{tokens:?}"), "5 configured");
    }

    #[test]
    fn bad_token_settings_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let setting = |r: Result<Tokens, ConfigError>| match r {
            Err(ConfigError::Invalid { setting, .. }) => setting,
            other => panic!("{:?}", other.map(|t| t.len())),
        };
        let scoped = |scopes: Vec<Scope>| {
            vec![ScopedTokenFile {
                file: empty.clone(),
                scopes,
            }]
        };
        assert_eq!(
            setting(Tokens::read(&[], &scoped(vec![Scope::Read]), None)),
            "auth.scoped_tokens[0].file"
        );
        assert_eq!(
            setting(Tokens::read(&[], &scoped(vec![]), None)),
            "auth.scoped_tokens[0].scopes"
        );
        assert_eq!(setting(Tokens::read(&[], &[], Some("short"))), "auth");
    }
}
