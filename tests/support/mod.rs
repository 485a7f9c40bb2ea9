//! Shared test support: real tools (promtool, amtool) run on files in temp directories.
#![allow(dead_code)] // each test binary uses a different part

pub mod alertmanager;
pub mod argo;
pub mod asker;
pub mod counting;
pub mod crd;
pub mod examples;
pub mod flagger;
pub mod haproxy;
pub mod noise;
pub mod postgres;
pub mod prometheus;
pub mod promtool;
pub mod proxy;
pub mod receivers;
pub mod rng;
pub mod rules_backfill;
pub mod scenario;
pub mod serve;
pub mod slogate;
pub mod smtp;
pub mod victoria;
pub mod webdriver;
