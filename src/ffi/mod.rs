//! The C interface: `include/smtpc.h`, generated from this module by
//! cbindgen (see `tests/it/c_header.rs`).
//!
//! This is the only module with `unsafe` code. It holds no protocol logic:
//! each function reads its C arguments, calls the Rust API, and keeps what
//! came back as C strings in the handle. Every `extern "C"` function runs
//! inside `ffi_boundary!`, so a panic becomes `SMTPC_PANIC` (or NULL, 0,
//! false) instead of unwinding into C, and every pointer argument may be
//! NULL.
//!
//! The files, each using only those above it:
//!
//! - `boundary`: the panic boundary, and `c_enum!` for enums C passes as
//!   `int`;
//! - `result`: `smtpc_result`, and `Done` and `Fail`, what an action gives
//!   before it becomes one;
//! - `args`: reading C arguments, making C strings;
//! - `callbacks`: the transcript and read callbacks;
//! - `outcome`: what the last call left, as C strings;
//! - `handle`: the handle (a [`Config`](crate::Config), the transcript,
//!   the session, the outcome), `ffi_boundary!`, and new, free, reset;
//! - `options`: every `smtpc_set_*`, but for
//! - `reach`: the options of time and of reaching the server (phases,
//!   call timeout, source address, proxy);
//! - `actions`: the calls that talk to the server;
//! - `accessors`: `smtpc_reply_*`, `smtpc_error_message`,
//!   `smtpc_rejected_*`, `smtpc_batch_*`, `smtpc_is_*` and the like.
//!
//! This file has the functions that need no handle.

#![allow(unsafe_code)]
// Each unsafe operation in a block of its own, with its own SAFETY
// comment: a new one added beside another does not go unremarked. (The
// tests call the C functions many to a block, under one comment.)
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(not(test), deny(clippy::multiple_unsafe_ops_per_block))]
#![deny(clippy::undocumented_unsafe_blocks)]
#![allow(non_camel_case_types)]

// The header declares the items in this order: the functions of this
// file, then each file's in turn.
// (Blank lines keep rustfmt from sorting them: the macros must be
// defined before their users.)
#[macro_use]
mod boundary;

mod result;

mod args;

mod callbacks;

mod outcome;

#[macro_use]
mod handle;

mod options;

mod reach;

mod local;

mod actions;

mod accessors;

use std::ffi::{c_char, c_int};

use result::smtpc_result;

/// The version of the library, e.g. "0.1.0": compare it with the header's
/// `SMTPC_VERSION` to detect a header/library mismatch. Static; never
/// NULL.
#[no_mangle]
pub extern "C" fn smtpc_version() -> *const c_char {
    ffi_boundary! {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    }
}

/// A static, human-readable name for a result ("ok", "permanent failure",
/// ...); "unknown result" for a value that is not an `smtpc_result`.
/// Never NULL; the string must not be freed.
#[no_mangle]
pub extern "C" fn smtpc_result_str(result: c_int) -> *const c_char {
    ffi_boundary! {
        smtpc_result::from_int(result)
            .map_or(c"unknown result", smtpc_result::name)
            .as_ptr()
    }
}

/// Makes TLS set-up cheap for the whole process: the system's CA bundle
/// is no longer parsed (twice) each time a TLS connector is built, but
/// once per connector by smtpc, while connecting, and not at all for
/// handles whose system roots are off (`smtpc_set_system_roots(c,
/// false)`). The roots trusted stay the same. It points the environment's
/// `SSL_CERT_FILE` at /dev/null for this process, so **call it first thing
/// in `main`, before any thread starts** (like `curl_global_init`), and
/// give programs you start the value it had if they use TLS. Calling it
/// again does nothing. Returns whether it took effect (false where there
/// is no /dev/null).
///
/// Without it, each handle's options still build their connector once
/// per process (shared by every handle with equal options, kept a day),
/// so a long-running program pays the bundle's parsing once.
#[no_mangle]
pub extern "C" fn smtpc_take_over_system_roots() -> bool {
    ffi_boundary! { crate::take_over_system_roots() }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_reentry;
