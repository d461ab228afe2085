//! What every C-facing item stands on: the panic boundary, and the
//! mapping of C enums that arrive as `int`. Depends on nothing else in
//! `ffi`.
//!
//! Unwinding out of an `extern "C"` function aborts the host process, so
//! every body runs inside [`run`] (through `ffi_boundary!`, see
//! `handle.rs`): a panic is caught there and the function returns the
//! value its type gives for "panicked" ([`OnPanic`]): `SMTPC_PANIC` for a
//! result, NULL for a pointer, 0 or false otherwise.

use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What an `extern "C"` function returns when its body panicked.
pub(crate) trait OnPanic {
    fn on_panic() -> Self;
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
/// through `handle::act`, which drops the session and resets the
/// handle's outcome when its action panics; accessors only read.
pub(crate) fn run<T: OnPanic>(body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| T::on_panic())
}

/// Maps each variant of a C enum to a value, written as a method:
///
/// ```text
/// c_enum! {
///     /// The Rust mode this value names.
///     fn mode(self: smtpc_tls) -> Tls {
///         SMTPC_TLS_NONE => Tls::None,
///         ...
///     }
/// }
/// ```
///
/// The method is an exhaustive `match`, so a variant left out does not
/// compile. From the same arms come `ALL`, every variant, and `from_int`,
/// which reads the `int` C passes (a value that is no variant is `None`,
/// never undefined behaviour). The enum itself stays written out in full
/// for cbindgen, which does not expand macros.
macro_rules! c_enum {
    (
        $(#[$doc:meta])*
        fn $map:ident(self: $ty:ident) -> $out:ty {
            $($variant:ident => $value:expr),+ $(,)?
        }
    ) => {
        impl $ty {
            /// Every variant, in the order of the mapping.
            pub(crate) const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The variant whose value is `value`, if there is one.
            pub(crate) fn from_int(value: ::std::ffi::c_int) -> Option<$ty> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| *v as ::std::ffi::c_int == value)
            }

            $(#[$doc])*
            pub(crate) fn $map(self) -> $out {
                match self {
                    $($ty::$variant => $value,)+
                }
            }
        }
    };
}
