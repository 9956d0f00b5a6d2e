//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ndpool::ndarray::{ArrayD, ArrayViewD};
use ndpool::Element;

/// Bit-for-bit equality, NaN equal to NaN (any payload) and -0.0 distinct from 0.0.
pub fn same_bits<T: Element>(a: T, b: T) -> bool {
    (a.is_nan() && b.is_nan()) || (a == b && a.is_sign_negative() == b.is_sign_negative())
}

/// Units in the last place between two finite values of the same sign class.
pub fn ulps<T: Element>(a: T, b: T) -> f64 {
    if same_bits(a, b) || a == b {
        return 0.0;
    }
    if a.is_nan() || b.is_nan() || a.is_infinite() || b.is_infinite() {
        return f64::INFINITY;
    }
    let a64 = a.to_f64().unwrap();
    let b64 = b.to_f64().unwrap();
    let eps = T::epsilon().to_f64().unwrap();
    let scale = a64
        .abs()
        .max(b64.abs())
        .max(T::min_positive_value().to_f64().unwrap());
    (a64 - b64).abs() / (eps * scale)
}

/// Asserts `actual` equals `expected` bit for bit (max pooling).
pub fn assert_bits<T: Element>(actual: &ArrayViewD<T>, expected: &ArrayViewD<T>, what: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shapes differ");
    for ((i, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        assert!(
            same_bits(a, e),
            "{what}: at {i:?} got {a:?}, expected {e:?}"
        );
    }
}

/// Asserts every element is within `max_ulps` ULP (NaN matching NaN, infinities exact).
pub fn assert_ulps<T: Element>(
    actual: &ArrayViewD<T>,
    expected: &ArrayViewD<T>,
    max_ulps: f64,
    what: &str,
) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shapes differ");
    for ((i, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        let d = ulps(a, e);
        assert!(
            d <= max_ulps,
            "{what}: at {i:?} got {a:?}, expected {e:?} ({d} ulp)"
        );
    }
}

/// Asserts closeness with an absolute-plus-relative bound (against a peer that sums in a
/// different order and precision).
pub fn assert_close<T: Element>(
    actual: &ArrayViewD<T>,
    expected: &ArrayViewD<T>,
    tol: f64,
    what: &str,
) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shapes differ");
    for ((i, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        let (a64, e64) = (a.to_f64().unwrap(), e.to_f64().unwrap());
        let ok = same_bits(a, e) || (a64 - e64).abs() <= tol * (1.0 + e64.abs());
        assert!(ok, "{what}: at {i:?} got {a:?}, expected {e:?}");
    }
}

/// Converts an `ArrayD<T>` reference result into a view for the asserts.
pub fn dyn_view<T>(a: &ArrayD<T>) -> ArrayViewD<'_, T> {
    a.view()
}

/// The next value of a xorshift64 generator (deterministic test data without a crate).
pub fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
