//! `rectify._rectify`, the extension module of the Python package: the command line run
//! in-process ([`run`], with a Python progress callback and Ctrl-C), the `rectify` command
//! ([`main`]) and the bundled sample ([`write_sample`]). The Python API (`python/rectify/`)
//! builds command lines from keyword arguments and reads the run directory; the run directory is
//! the single source of truth, so runs made from Python and from the binary are the same.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError};
use pyo3::prelude::*;
use rectify::Failure;
use rectify_pipeline::Progress;

mod sample {
    include!(concat!(env!("OUT_DIR"), "/sample.rs"));
}

create_exception!(
    _rectify,
    RectifyError,
    PyException,
    "A command failed: the message is the one the `rectify` binary prints after `rectify: error: `."
);
create_exception!(
    _rectify,
    UsageError,
    RectifyError,
    "Arguments the command line refuses (an unknown option, a bad value): clap's message, usage included."
);

/// The payload a sink unwinds with when Python raised (Ctrl-C, or an exception in the callback).
struct Interrupted;

/// A [`Progress`] sink that forwards every event to a Python callable
/// `callback(event, text, n)` and lets Python's signal handlers run (so Ctrl-C stops the stage
/// between two events, leaving the run as an interrupted binary would: resumable).
struct PySink {
    callback: Option<Arc<Py<PyAny>>>,
    raised: Arc<Mutex<Option<PyErr>>>,
}

impl PySink {
    fn send(&mut self, event: &str, text: &str, n: u64) {
        if std::thread::panicking() {
            // A guard reporting while the stage unwinds: a second unwind would abort.
            return;
        }
        let result = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(callback) = &self.callback {
                callback.call1(py, (event, text, n))?;
            }
            Ok(())
        });
        if let Err(err) = result {
            *self.raised.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
            resume_unwind(Box::new(Interrupted));
        }
    }
}

impl Progress for PySink {
    fn inc(&mut self, n: u64) {
        self.send("inc", "", n);
    }
    fn begin(&mut self, label: &str, len: u64) {
        self.send("begin", label, len);
    }
    fn message(&mut self, msg: &str) {
        self.send("message", msg, 0);
    }
    fn finish(&mut self) {
        self.send("finish", "", 0);
    }
}

/// Runs the command line `argv` (without the program name) in this process, with the GIL
/// released. `progress(event, text, n)` receives `begin` (label, length), `inc` (count),
/// `message` (text) and `finish`. Raises `UsageError` or `RectifyError` with the binary's
/// message, and re-raises what the callback or a signal handler raised (`KeyboardInterrupt`),
/// after the stage stopped as it stops when interrupted.
#[pyfunction]
#[pyo3(signature = (argv, progress=None))]
fn run(py: Python<'_>, argv: Vec<String>, progress: Option<Py<PyAny>>) -> PyResult<()> {
    let callback = progress.map(Arc::new);
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let (cb, slot) = (callback.clone(), raised.clone());
    let make = move || -> Box<dyn Progress> { Box::new(PySink { callback: cb.clone(), raised: slot.clone() }) };
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(|| rectify::with_progress(make, || rectify::run(argv)))));
    match outcome {
        Ok(Ok(())) | Ok(Err(Failure::BrokenPipe)) => Ok(()),
        Ok(Err(Failure::Usage(msg))) => Err(UsageError::new_err(msg.trim_end().to_string())),
        Ok(Err(Failure::Error(msg))) => Err(RectifyError::new_err(msg)),
        Err(payload) if payload.is::<Interrupted>() => {
            let err = raised.lock().unwrap_or_else(|e| e.into_inner()).take();
            Err(err.unwrap_or_else(|| RectifyError::new_err("interrupted")))
        }
        Err(payload) => resume_unwind(payload),
    }
}

/// The `rectify` command: runs `argv` as the binary does (messages on standard error) and
/// returns its exit status.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| rectify::main(argv))
}

/// Writes the bundled sample (`sample-images/`, `sample-labels.csv`, `sample-real.json`,
/// `sample-real-raters.npz` and its licence) into `dir`, creating it.
#[pyfunction]
fn write_sample(dir: std::path::PathBuf) -> PyResult<()> {
    let io = |e: std::io::Error, what: &std::path::Path| PyOSError::new_err(format!("{}: {e}", what.display()));
    for (name, bytes) in sample::SAMPLE {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(e, parent))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io(e, &path))?;
    }
    Ok(())
}

/// The 1,000 ImageNet class names, by class index (torchvision's order).
#[pyfunction]
fn class_names() -> Vec<String> {
    rectify_data::imagenet::classes().iter().map(|c| c.name.to_string()).collect()
}

/// The extension module.
#[pymodule]
fn _rectify(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("RectifyError", m.py().get_type::<RectifyError>())?;
    m.add("UsageError", m.py().get_type::<UsageError>())?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(write_sample, m)?)?;
    m.add_function(wrap_pyfunction!(class_names, m)?)?;
    Ok(())
}
