//! `slogate serve`: the gatekeeper service.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::settings::SettingsArgs;

use slogate::telemetry::{self, LogFormat};

/// Serve the gates (Argo Rollouts web provider, Flagger webhooks), the verdict history and SLO
/// status over HTTP.
///
/// Settings come from the config file, then `SLOGATE_*` environment variables, then these
/// flags. API tokens come from `auth.token_files` or `SLOGATE_API_TOKENS` (comma-separated);
/// without any, slogate serves on a loopback address only unless --allow-unauthenticated.
/// SIGHUP reloads the SLO definitions; SIGTERM stops after answering the requests in flight.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    settings: SettingsArgs,
    /// Address to listen on (e.g. 127.0.0.1:8080).
    #[arg(long, env = "SLOGATE_LISTEN")]
    listen: Option<String>,
    /// Serve without tokens on a non-loopback address.
    #[arg(long, env = "SLOGATE_ALLOW_UNAUTHENTICATED")]
    allow_unauthenticated: bool,
    /// Log format: text or json.
    #[arg(long, env = "SLOGATE_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// OTLP/HTTP endpoint for slogate's own spans (e.g. http://collector:4318).
    #[arg(long, env = "SLOGATE_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.settings.load()?;
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if args.allow_unauthenticated {
        config.allow_unauthenticated = true;
    }
    if let Some(v) = args.log_format {
        config.telemetry.log_format = v;
    }
    if let Some(v) = args.otlp_endpoint {
        config.telemetry.otlp_endpoint = Some(v);
    }
    let env_tokens = std::env::var("SLOGATE_API_TOKENS").ok();
    let settings = config.settings(env_tokens.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let telemetry = Arc::new(telemetry::init(&settings.telemetry)?);
        let served = slogate::server::run(settings, telemetry.clone()).await;
        // Background tasks still hold the telemetry: flush through the shared handle.
        telemetry.shutdown();
        served
    })?;
    Ok(ExitCode::SUCCESS)
}
