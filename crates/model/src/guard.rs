//! libtorch failures as errors, not panics.
//!
//! `tch`'s tensor operations unwrap libtorch's C++ exceptions, so a failed allocation inside a
//! forward pass ("DefaultCPUAllocator: can't allocate memory: you tried to allocate 3221225472
//! bytes") panics with a 50-line C++ trace. [`guarded`] runs a computation, turns such a panic
//! into [`ModelError::Forward`] with libtorch's first line, and keeps the panic hook quiet while it
//! does: the user sees one `rectify: error:` line, and the run stays resumable.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::ModelError;

thread_local! {
    /// How many [`guarded`] calls this thread is inside: the hook prints nothing while > 0.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Runs `f`; a panic inside it (a libtorch exception unwrapped by `tch`, an assertion) becomes
/// [`ModelError::Forward`] carrying `what` and the panic's first line.
pub fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, ModelError> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    DEPTH.with(|d| d.set(d.get() + 1));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    outcome.map_err(|payload| {
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("a panic without a message");
        ModelError::Forward { what: what.to_string(), message: first_line(text) }
    })
}

/// libtorch's message without its C++ trace: the first non-empty line, with `tch`'s wrapper
/// (`called `Result::unwrap()` on an `Err` value: Torch("…`) taken off.
fn first_line(text: &str) -> String {
    let text = text.split_once("Torch(\"").map_or(text, |(_, rest)| rest);
    // tch's Debug output escapes libtorch's newlines: `\n` is two characters there.
    let line = text.split('\n').flat_map(|l| l.split("\\n")).map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    line.trim_end_matches("\")").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn an_impossible_allocation_is_an_error() {
        // 2^50 floats (4 PiB, more than the 128 TiB a process can address, whatever the overcommit
        // setting): libtorch's allocator refuses, tch unwraps, guarded returns the reason.
        let err = guarded("a test", || Tensor::empty([1i64 << 50], (Kind::Float, tch::Device::Cpu))).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("a test failed in libtorch: "), "{text}");
        assert!(!text.contains('\n') && !text.contains("\\n") && !text.contains("frame #"), "{text}");
        assert!(text.contains("DefaultCPUAllocator") || text.contains("allocate"), "{text}");
        // The thread is fine afterwards, and the hook prints again outside guarded.
        assert_eq!(guarded("again", || 1 + 1).unwrap(), 2);
    }

    #[test]
    fn the_message_is_libtorchs_first_line() {
        let wrapped = "called `Result::unwrap()` on an `Err` value: Torch(\"[enforce fail at alloc_cpu.cpp:121] \
                       data. DefaultCPUAllocator: not enough memory\\nframe #0: …\")";
        assert!(first_line(wrapped).starts_with("[enforce fail at alloc_cpu.cpp:121] data. DefaultCPUAllocator"));
        assert_eq!(first_line("plain\nsecond"), "plain");
    }
}
