//! Running a command under a time limit and measuring what it used: its peak resident memory
//! (`ru_maxrss` of the child alone, from `wait4`), its wall time, and how it ended (exit status or
//! signal). For tests of hostile inputs: "exit status 2 within 10 s and 1.5 GiB, never a signal".

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a measured command ended.
#[derive(Debug)]
pub struct Measured {
    /// Its exit status (`status.code()` is `None` when a signal ended it).
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
    /// Peak resident memory of the child, in bytes.
    pub max_rss: u64,
    /// Wall time from start to exit.
    pub wall: Duration,
    /// Whether the time limit ran out (the child was then killed with SIGKILL).
    pub timed_out: bool,
}

impl Measured {
    /// Standard error as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `cmd` (its stdout and stderr captured), killing it after `limit`.
pub fn run_measured(cmd: &mut Command, limit: Duration) -> Measured {
    let start = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the command starts");
    let pid = child.id() as libc::pid_t;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let mut timed_out = false;
    let (raw, usage) = loop {
        let mut status = 0;
        // SAFETY: `rusage` is plain data, zero-initialised, written by the kernel.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child `pid` (not reaped elsewhere: `child` is never waited
        // on), with valid pointers to a status and an rusage.
        let flags = if timed_out { 0 } else { libc::WNOHANG };
        let got = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if got == pid {
            break (status, usage);
        }
        assert!(got == 0, "wait4 failed: {}", std::io::Error::last_os_error());
        if start.elapsed() > limit {
            // SAFETY: signals our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            timed_out = true;
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let wall = start.elapsed();
    std::mem::forget(child); // reaped by wait4 above
    Measured {
        status: ExitStatus::from_raw(raw),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        max_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024, // kilobytes on Linux
        wall,
        timed_out,
    }
}
