//! The instruction set of the hot loops, chosen at run time.
//!
//! The crate is compiled for the baseline of its target (SSE2 on x86-64). SLIC's assignment step
//! and the Lab conversion are also compiled with AVX2 and FMA, and with AVX-512, and run as the
//! best of these the CPU has (checked at run time; `std` caches the answer): eight or sixteen
//! `f32` lanes per vector instead of four, and `mul_add` as one instruction instead of a library
//! call. The results are bit-identical at every level: Rust never fuses a multiplication and an
//! addition that the source does not fuse, `mul_add` is a fused multiply-add at every level, and
//! vector instructions round as scalar ones do (`tests` compare every level this CPU has with the
//! baseline).

/// Instruction sets the hot loops are compiled for, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// What the crate is compiled for.
    Baseline,
    /// AVX2 and FMA.
    Avx2,
    /// AVX-512 (F, VL, BW, DQ) with AVX2 and FMA.
    Avx512,
}

/// The best [`Level`] this CPU has (in tests: at most the one set by [`with_level`]).
#[inline(always)]
pub(crate) fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    let best = {
        use std::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            if has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq") {
                Level::Avx512
            } else {
                Level::Avx2
            }
        } else {
            Level::Baseline
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let best = Level::Baseline;
    #[cfg(test)]
    let best = best.min(CAP.with(std::cell::Cell::get));
    best
}

#[cfg(test)]
thread_local! {
    /// The highest level [`level`] returns on this thread.
    static CAP: std::cell::Cell<Level> = const { std::cell::Cell::new(Level::Avx512) };
}

/// Runs `f` with the hot loops it calls on this thread at most at `cap`.
#[cfg(test)]
pub(crate) fn with_level<R>(cap: Level, f: impl FnOnce() -> R) -> R {
    let previous = CAP.with(|c| c.replace(cap));
    let result = f();
    CAP.with(|c| c.set(previous));
    result
}

/// The levels this CPU has, lowest first.
#[cfg(test)]
pub(crate) fn levels() -> Vec<Level> {
    [Level::Baseline, Level::Avx2, Level::Avx512].into_iter().filter(|&l| l <= level()).collect()
}

/// Defines a function that calls an `#[inline(always)]` one with the same arguments, compiled
/// for the best [`Level`] this CPU has:
/// ```text
/// multiversion! {
///     /// Docs of `name`.
///     fn name(arg: Type, …) -> Ret = body;
/// }
/// ```
macro_rules! multiversion {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $body:path;) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            /// `body` with AVX-512 enabled in it.
            ///
            /// # Safety
            /// The CPU must have the features enabled.
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
            unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            /// `body` with AVX2 and FMA enabled in it.
            ///
            /// # Safety
            /// The CPU must have the features enabled.
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            match $crate::cpu::level() {
                // SAFETY: `level` returns a level only where the CPU has all its features.
                #[allow(unsafe_code)]
                $crate::cpu::Level::Avx512 => return unsafe { avx512($($arg),*) },
                // SAFETY: as above.
                #[allow(unsafe_code)]
                $crate::cpu::Level::Avx2 => return unsafe { avx2($($arg),*) },
                $crate::cpu::Level::Baseline => {}
            }
            $body($($arg),*)
        }
    };
}

pub(crate) use multiversion;
