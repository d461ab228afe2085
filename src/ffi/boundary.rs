//! The panic boundary around every `extern "C"` function.
//!
//! Unwinding out of an `extern "C"` function aborts the host process, so
//! every body runs inside [`ffi_boundary!`]: a panic is caught there and
//! the function returns the value its type gives for "panicked"
//! ([`OnPanic`]): `SMTPC_PANIC` for a result, NULL for a pointer, 0 or
//! false otherwise.

use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::result::smtpc_result;

/// What an `extern "C"` function returns when its body panicked.
pub(crate) trait OnPanic {
    fn on_panic() -> Self;
}

impl OnPanic for smtpc_result {
    fn on_panic() -> Self {
        smtpc_result::SMTPC_PANIC
    }
}

impl<T> OnPanic for *const T {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

impl<T> OnPanic for *mut T {
    fn on_panic() -> Self {
        std::ptr::null_mut()
    }
}

impl OnPanic for () {
    fn on_panic() -> Self {}
}

impl OnPanic for bool {
    fn on_panic() -> Self {
        false
    }
}

impl OnPanic for c_int {
    fn on_panic() -> Self {
        0
    }
}

impl OnPanic for usize {
    fn on_panic() -> Self {
        0
    }
}

/// Runs `body`, turning a panic into [`OnPanic::on_panic`].
///
/// `AssertUnwindSafe` is sound here because nothing observes a
/// half-updated value afterwards: functions that act on a handle go
/// through [`super::handle::act`], which drops the session and resets the
/// handle's outcome when its action panics.
pub(crate) fn run<T: OnPanic>(body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| T::on_panic())
}

/// Wraps the body of an `extern "C"` function in the panic boundary.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        $crate::ffi::boundary::run(move || { $($body)* })
    };
}
