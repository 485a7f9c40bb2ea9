//! Sign-in sessions of the status pages: the cookie carries a random id, never the API token.
//!
//! A session is a row in the store (the SHA-256 of the id, the fingerprint of the token that
//! signed in, the expiry), so it expires (`pages.session_ttl`, default 12 h), ends at sign-out
//! for good (a copied cookie opens nothing afterwards), ends when its token is removed from the
//! settings, and holds across replicas that share the database.

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::server::state::AppState;
use crate::tokens::Scope;

/// The cookie that carries the session id of a signed-in browser.
pub const COOKIE: &str = "slogate_session";

/// Hex SHA-256 of `text`.
fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random session id: 244 random bits (two version-4 UUIDs), as 64 hex digits.
fn new_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Opens a session for `token` (already checked); the cookie value, or why not.
pub async fn open(state: &AppState, token: &str) -> Result<String, String> {
    let id = new_id();
    let (hash, fingerprint) = (sha256_hex(&id), sha256_hex(token));
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(state.settings.pages.session_ttl)
        .map_err(|e| format!("pages.session_ttl: {e}"))?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.open_session(&hash, &fingerprint, now, now + ttl))
        .await
        .map_err(|e| format!("the store writer stopped: {e}"))?
        .map_err(|e| e.to_string())?;
    Ok(id)
}

/// Whether `id` names an open session of a token still configured with the read scope.
pub async fn valid(state: &AppState, id: &str) -> bool {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let store = state.store.clone();
    let hash = sha256_hex(id);
    let found = tokio::task::spawn_blocking(move || store.session_token(&hash, Utc::now())).await;
    let Ok(Ok(Some(fingerprint))) = found else {
        return false;
    };
    state
        .settings
        .tokens
        .any_with(Scope::Read, |secret| sha256_hex(secret) == fingerprint)
}

/// Ends the session `id`, if it is one.
pub async fn close(state: &AppState, id: &str) {
    let store = state.store.clone();
    let hash = sha256_hex(id);
    let closed = tokio::task::spawn_blocking(move || store.close_session(&hash)).await;
    if !matches!(closed, Ok(Ok(()))) {
        tracing::warn!("a sign-out could not end its session in the store; it expires on its own");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_hex_and_only_their_hash_is_kept() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
