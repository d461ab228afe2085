//! The C interface: `include/smtpc.h`, generated from this module by
//! cbindgen (see `tests/c_header.rs`).
//!
//! This is the only module with `unsafe` code. It holds no protocol logic:
//! each function reads its C arguments, calls the Rust API, and keeps what
//! came back as C strings in the handle. Every `extern "C"` function runs
//! inside [`ffi_boundary!`], so a panic becomes `SMTPC_PANIC` (or NULL, 0,
//! false) instead of unwinding into C, and every pointer argument may be
//! NULL.
//!
//! The files: `boundary` (the panic boundary), `result` (`smtpc_result`),
//! `args` (reading C arguments), `callbacks` (transcript and read
//! callbacks), `handle` (the handle and its options), `security` (TLS
//! and AUTH options), `actions` (the
//! calls that talk to the server), `outcome` (what the last call left:
//! reply, error message, refused recipients).

#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

// The header declares items in this order, hence the groups.
#[macro_use]
mod boundary;
mod args;

mod result;

mod callbacks;

mod handle;

mod security;

mod actions;

mod outcome;

use std::ffi::c_char;

/// The version of the library, e.g. "0.1.0": compare it with the header's
/// `SMTPC_VERSION` to detect a header/library mismatch. Static; never
/// NULL.
#[no_mangle]
pub extern "C" fn smtpc_version() -> *const c_char {
    ffi_boundary! {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    }
}

#[cfg(test)]
mod tests;
