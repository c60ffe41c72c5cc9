//! This package holds only tests (in `tests/`): checks across crates that no single crate can
//! make about itself.
