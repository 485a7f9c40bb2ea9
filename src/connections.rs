//! `connections:` in `slogate.yaml`: how long a client may take to send a request, and how a
//! shutdown drains: how long it keeps serving once it reports not ready, and how long it then
//! waits for the requests in flight.
//!
//! Anyone who reaches the port can open connections without a token, so these bound what a
//! connection costs before authentication: a client that sends its headers a byte at a time
//! (slowloris), or a body that never ends, is cut off instead of holding a socket and a task
//! for ever, and SIGTERM never waits on such connections.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, duration, positive_duration};

/// `connections:` as written (Prometheus durations).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionsConfig {
    /// Longest time from a connection's first byte (or the end of its previous request) to the
    /// end of a request's headers; past it the connection is closed. Default `10s`.
    pub header_read_timeout: String,
    /// Longest time to receive a whole request body once the headers are in (the largest OTLP
    /// export included); past it the request fails. Default `30s`.
    pub body_read_timeout: String,
    /// After SIGTERM, how long the requests in flight may take to finish; connections that
    /// never sent a whole request are not waited for. Default `15s`, under Kubernetes' 30 s
    /// grace period with room for flushing slogate's own spans.
    pub shutdown_grace: String,
    /// After SIGTERM, how long slogate keeps accepting and answering requests while `/readyz`
    /// answers 503, so that a load balancer (its health check) or Kubernetes (its endpoints)
    /// stops sending before the listener closes: a rolling restart loses no request. Then the
    /// listener closes and `shutdown_grace` begins. `0s` closes at once (when a `preStop` hook
    /// already waited, as in `deploy/replicas/`). Default `5s`: longer than a Kubernetes
    /// endpoint change takes to reach kube-proxy and most ingress controllers, and than two
    /// failed health checks of a load balancer checking every second or two.
    pub shutdown_drain: String,
    /// Connections open at once; one more is answered `503` with `Retry-After` and closed
    /// (Argo and the exporters retry), so a flood of idle connections cannot take every
    /// socket and task. Default `512`.
    pub max_connections: usize,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            header_read_timeout: "10s".to_string(),
            body_read_timeout: "30s".to_string(),
            shutdown_grace: "15s".to_string(),
            shutdown_drain: "5s".to_string(),
            max_connections: 512,
        }
    }
}

/// The checked limits the server runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// As [`ConnectionsConfig::header_read_timeout`].
    pub header_read_timeout: Duration,
    /// As [`ConnectionsConfig::body_read_timeout`].
    pub body_read_timeout: Duration,
    /// As [`ConnectionsConfig::shutdown_grace`].
    pub shutdown_grace: Duration,
    /// As [`ConnectionsConfig::shutdown_drain`] (may be zero).
    pub shutdown_drain: Duration,
    /// As [`ConnectionsConfig::max_connections`].
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionsConfig::default()
            .limits()
            .expect("the defaults are valid")
    }
}

impl ConnectionsConfig {
    /// Parses each duration, naming the setting of one that does not.
    pub fn limits(&self) -> Result<ConnectionLimits, ConfigError> {
        Ok(ConnectionLimits {
            header_read_timeout: positive_duration(
                "connections.header_read_timeout",
                &self.header_read_timeout,
            )?,
            body_read_timeout: positive_duration(
                "connections.body_read_timeout",
                &self.body_read_timeout,
            )?,
            shutdown_grace: positive_duration("connections.shutdown_grace", &self.shutdown_grace)?,
            shutdown_drain: duration("connections.shutdown_drain", &self.shutdown_drain)?,
            max_connections: match self.max_connections {
                0 => {
                    return Err(ConfigError::Invalid {
                        setting: "connections.max_connections".to_string(),
                        message: "must be at least 1".to_string(),
                    });
                }
                n => n,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_a_bad_value_names_its_setting() {
        let limits = ConnectionLimits::default();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.body_read_timeout, Duration::from_secs(30));
        assert_eq!(limits.shutdown_grace, Duration::from_secs(15));
        assert_eq!(limits.shutdown_drain, Duration::from_secs(5));
        let closed_at_once = ConnectionsConfig {
            shutdown_drain: "0s".into(),
            ..ConnectionsConfig::default()
        };
        assert_eq!(
            closed_at_once.limits().unwrap().shutdown_drain,
            Duration::ZERO
        );
        let bad = ConnectionsConfig {
            shutdown_grace: "0s".into(),
            ..ConnectionsConfig::default()
        };
        let error = bad.limits().unwrap_err().to_string();
        assert!(error.starts_with("connections.shutdown_grace:"), "{error}");
    }
}
