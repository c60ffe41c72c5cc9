//! This package holds only benchmarks (in `benches/`). Run them with
//! `cargo bench -p switchboard-benches`; record figures in `docs/performance.md`.
