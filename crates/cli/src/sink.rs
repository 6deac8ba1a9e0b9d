//! Where the commands report progress: standard error ([`Console`]) unless the caller of
//! [`crate::run`] installed its own sink on this thread with [`with_progress`] (the Python
//! package's bar). Per thread, so that two threads running commands keep their own sinks.

use std::cell::RefCell;

use rectify_pipeline::{Console, Progress};

type Factory = Box<dyn Fn() -> Box<dyn Progress>>;

thread_local! {
    static FACTORY: RefCell<Option<Factory>> = const { RefCell::new(None) };
}

/// The sink of a command: a new one from this thread's installed factory, or a [`Console`].
pub fn progress() -> Box<dyn Progress> {
    FACTORY.with(|f| match &*f.borrow() {
        Some(make) => make(),
        None => Box::new(Console::new()),
    })
}

/// Runs `f` with `make` giving the commands' sinks on this thread, then restores what was there
/// before, also when `f` unwinds (an interrupt raised from inside a sink).
pub fn with_progress<T>(make: impl Fn() -> Box<dyn Progress> + 'static, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Factory>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            FACTORY.with(|f| *f.borrow_mut() = previous);
        }
    }
    let previous = FACTORY.with(|f| f.borrow_mut().replace(Box::new(make)));
    let _restore = Restore(previous);
    f()
}
