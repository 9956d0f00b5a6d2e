//! Which instruction set the kernels are compiled for, detected at run time and forcible
//! for tests and benchmarks.
//!
//! Every kernel is one `#[inline(always)]` body; [`multiversion!`] calls it through a wrapper
//! compiled with `#[target_feature]` for the chosen set, so the same source is vectorised
//! for AVX-512, AVX2+FMA or the baseline (SSE2 on x86-64, NEON on aarch64).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// An instruction set the kernels can run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// The target's baseline: SSE2 on x86-64, NEON on aarch64, scalar elsewhere.
    Baseline,
    /// AVX2 with FMA (x86-64).
    Avx2,
    /// AVX-512F and DQ, with AVX2 and FMA (x86-64).
    Avx512,
}

impl Isa {
    /// Every set this CPU can run, baseline first.
    pub fn available() -> &'static [Isa] {
        static AVAILABLE: OnceLock<Vec<Isa>> = OnceLock::new();
        AVAILABLE.get_or_init(|| {
            #[allow(unused_mut)]
            let mut all = vec![Isa::Baseline];
            #[cfg(target_arch = "x86_64")]
            {
                let avx2 = std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma");
                if avx2 {
                    all.push(Isa::Avx2);
                }
                let avx512 = std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq");
                if avx2 && avx512 {
                    all.push(Isa::Avx512);
                }
            }
            all
        })
    }

    /// The best set this CPU can run.
    pub fn detect() -> Isa {
        *Isa::available().last().unwrap_or(&Isa::Baseline)
    }

    fn from_code(code: u8) -> Option<Isa> {
        match code {
            1 => Some(Isa::Baseline),
            2 => Some(Isa::Avx2),
            3 => Some(Isa::Avx512),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            Isa::Baseline => 1,
            Isa::Avx2 => 2,
            Isa::Avx512 => 3,
        }
    }
}

/// 0: not forced, use the detected set.
static FORCED: AtomicU8 = AtomicU8::new(0);

/// Forces every later call in this process to use `isa` (`None`: the best detected). A set
/// the CPU lacks is ignored, falling back to the detected one. For tests and benchmarks;
/// the environment variable `NDPOOL_ISA=baseline|avx2|avx512` does the same at start-up.
pub fn force_isa(isa: Option<Isa>) {
    FORCED.store(isa.map_or(0, Isa::code), Ordering::Relaxed);
}

/// The set the next call will use.
pub fn current_isa() -> Isa {
    static FROM_ENV: OnceLock<Option<Isa>> = OnceLock::new();
    let forced = Isa::from_code(FORCED.load(Ordering::Relaxed)).or_else(|| {
        *FROM_ENV.get_or_init(|| match std::env::var("NDPOOL_ISA").ok().as_deref() {
            Some("baseline") => Some(Isa::Baseline),
            Some("avx2") => Some(Isa::Avx2),
            Some("avx512") => Some(Isa::Avx512),
            _ => None,
        })
    });
    match forced {
        Some(isa) if Isa::available().contains(&isa) => isa,
        _ => Isa::detect(),
    }
}

/// Defines `fn $name<generics>(isa: Isa, args...) -> ret` that runs `$body` compiled for
/// `isa`: the body is an `#[inline(always)]` function called from thin `#[target_feature]`
/// wrappers, so everything it inlines is vectorised for that instruction set. Generics are
/// written in brackets: `fn name[T: Element, K: Kernel<T>](x: T) -> bool { ... }`.
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident[$($gen:tt)*]($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$meta])*
        fn $name<$($gen)*>(isa: Isa, $($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn body<$($gen)*>($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2<$($gen)*>($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
                fn avx512<$($gen)*>($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                match isa {
                    // SAFETY: `Isa::Avx2` is only chosen when `Isa::available()` saw avx2 and fma.
                    Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    // SAFETY: `Isa::Avx512` is only chosen when `Isa::available()` saw avx512f,
                    // avx512dq, avx2 and fma.
                    Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    Isa::Baseline => {}
                }
            }
            let _ = isa;
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;
