//! Test-only package: the integration tests are in tests/tests/; this library holds the fakes
//! they share with the benchmarks.

pub mod fake_telegram;
