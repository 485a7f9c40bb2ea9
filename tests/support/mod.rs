//! Shared test support: real tools (promtool, amtool) run on files in temp directories.
#![allow(dead_code)] // each test binary uses a different part

pub mod promtool;
