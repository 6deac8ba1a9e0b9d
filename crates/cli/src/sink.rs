//! Where the commands report progress: standard error ([`Console`]) unless the caller of
//! [`crate::run`] installed its own sink with [`with_progress`] (the Python package's bar).

use std::sync::Mutex;

use rectify_pipeline::{Console, Progress};

type Factory = Box<dyn Fn() -> Box<dyn Progress> + Send>;

static FACTORY: Mutex<Option<Factory>> = Mutex::new(None);

/// The sink of a command: a new one from the installed factory, or a [`Console`].
pub fn progress() -> Box<dyn Progress> {
    match &*FACTORY.lock().unwrap_or_else(|e| e.into_inner()) {
        Some(make) => make(),
        None => Box::new(Console::new()),
    }
}

/// Runs `f` with `make` giving the commands' sinks, then restores the console, also when `f`
/// unwinds (an interrupt raised from inside a sink).
pub fn with_progress<T>(make: impl Fn() -> Box<dyn Progress> + Send + 'static, f: impl FnOnce() -> T) -> T {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            *FACTORY.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
    *FACTORY.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(make));
    let _restore = Restore;
    f()
}
