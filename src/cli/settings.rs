//! What `serve` and `report` read alike: the config file, then `SLOGATE_*` env, then flags.

use std::path::PathBuf;

use clap::Args;

use slogate::config::Config;

/// The configuration file and the flags (or env) that override its common keys.
#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Configuration file (YAML; every key optional).
    #[arg(long, env = "SLOGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Prometheus base URL.
    #[arg(long, env = "SLOGATE_PROMETHEUS_URL")]
    prometheus: Option<String>,
    /// SLO definitions: a directory or file.
    #[arg(long, env = "SLOGATE_SLOS")]
    slos: Option<PathBuf>,
    /// SQLite file of the verdict history and the notification outbox.
    #[arg(long, env = "SLOGATE_DB")]
    db: Option<PathBuf>,
}

impl SettingsArgs {
    /// The configuration file (or the defaults) with these flags over it.
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(v) = &self.prometheus {
            config.prometheus.url = v.clone();
        }
        if let Some(v) = &self.slos {
            config.slos = v.clone();
        }
        if let Some(v) = &self.db {
            config.db = v.clone();
        }
        Ok(config)
    }
}
