//! Bearer tokens for operator endpoints.
//!
//! Tokens are given at start (`name=token`), kept only as SHA-256 digests, and compared in
//! constant time against every configured digest, so neither a timing difference nor the position
//! of the match tells an attacker anything.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Shortest accepted token: shorter ones are guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// One operator: a name for the audit trail, and the digest of its token.
#[derive(Clone)]
struct Entry {
    name: String,
    digest: [u8; 32],
}

/// The configured operators. `Debug` shows names only.
#[derive(Clone, Default)]
pub struct OperatorTokens {
    entries: Vec<Entry>,
}

impl fmt::Debug for OperatorTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.name))
            .finish()
    }
}

/// Why an operator specification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenSpecError {
    /// The spec is not `name=token`.
    #[error("operator token must look like name=token, got {0:?}")]
    Shape(String),
    /// The name is empty or has characters outside [A-Za-z0-9._-].
    #[error("operator name {0:?} must be non-empty and use only letters, digits, '.', '_', '-'")]
    Name(String),
    /// The token is too short.
    #[error("token of operator {0:?} must be at least {MIN_TOKEN_LEN} characters")]
    TooShort(String),
    /// Two operators share a name.
    #[error("operator {0:?} is configured twice")]
    Duplicate(String),
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl OperatorTokens {
    /// Parses `name=token` specs.
    pub fn from_specs<S: AsRef<str>>(specs: &[S]) -> Result<Self, TokenSpecError> {
        let mut tokens = OperatorTokens::default();
        for spec in specs {
            let spec = spec.as_ref().trim();
            let (name, token) = spec
                .split_once('=')
                .ok_or_else(|| TokenSpecError::Shape(redact(spec)))?;
            tokens.add(name, token)?;
        }
        Ok(tokens)
    }

    /// Adds one operator.
    pub fn add(&mut self, name: &str, token: &str) -> Result<(), TokenSpecError> {
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid_name {
            return Err(TokenSpecError::Name(name.to_owned()));
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(TokenSpecError::TooShort(name.to_owned()));
        }
        if self.entries.iter().any(|e| e.name == name) {
            return Err(TokenSpecError::Duplicate(name.to_owned()));
        }
        self.entries.push(Entry {
            name: name.to_owned(),
            digest: digest(token.as_bytes()),
        });
        Ok(())
    }

    /// How many operators are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no operator is configured (operator endpoints then refuse every request).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The operator whose token this is. Every entry is compared, match or not.
    pub fn verify(&self, token: &str) -> Option<&str> {
        let candidate = digest(token.as_bytes());
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.digest.ct_eq(&candidate)) {
                found = Some(e.name.as_str());
            }
        }
        found
    }
}

fn redact(spec: &str) -> String {
    // Never echo a secret back into logs or error messages.
    spec.chars().take(8).collect::<String>() + "…"
}

/// An authenticated operator, extracted from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Operator(pub String);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::MissingToken)?;
        let value = header.to_str().map_err(|_| ApiError::InvalidToken)?;
        let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::MissingToken);
        }
        state
            .tokens
            .verify(token.trim())
            .map(|name| Operator(name.to_owned()))
            .ok_or(ApiError::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_right_operator_only() {
        let t =
            OperatorTokens::from_specs(&["ada=0123456789abcdef", "bo-1=fedcba9876543210"]).unwrap();
        assert_eq!(t.verify("0123456789abcdef"), Some("ada"));
        assert_eq!(t.verify("fedcba9876543210"), Some("bo-1"));
        assert_eq!(t.verify("0123456789abcdeF"), None);
        assert_eq!(t.verify(""), None);
        assert!(!format!("{t:?}").contains("0123"));
    }

    #[test]
    fn refuses_bad_specs() {
        assert!(matches!(
            OperatorTokens::from_specs(&["nopair"]),
            Err(TokenSpecError::Shape(_))
        ));
        assert!(matches!(
            OperatorTokens::from_specs(&["a=short"]),
            Err(TokenSpecError::TooShort(_))
        ));
        assert!(matches!(
            OperatorTokens::from_specs(&["bad name=0123456789abcdef"]),
            Err(TokenSpecError::Name(_))
        ));
        assert!(matches!(
            OperatorTokens::from_specs(&["a=0123456789abcdef", "a=0123456789abcdeX"]),
            Err(TokenSpecError::Duplicate(_))
        ));
    }
}
