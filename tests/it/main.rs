//! The integration tests, as one binary: one module per area, all sharing
//! `support` (testkit and the client helpers), compiled once.
//!
//! Two tests are binaries of their own because they measure their whole
//! process: `tests/allocations.rs` (a counting global allocator) and
//! `tests/hostile_memory.rs` (peak RSS). The command-line tool's tests are
//! in `cli/tests/`, where cargo builds the tool for them.

mod support;

mod auth;
mod c_api;
mod c_credentials;
mod c_header;
mod c_lmtp;
mod c_reentry;
mod c_secrets;
mod delivery;
mod exchange;
mod fuzz_regressions;
mod hostile;
mod lmtp;
mod one_shot;
mod pace;
mod pipelining;
mod prepared;
mod reach;
mod real_mailin;
mod real_sinks;
mod real_tls_auth;
mod renew;
mod scram;
mod success;
mod time;
mod tls;
