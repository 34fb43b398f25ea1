//! hwkit benchmarks live in `benches/`.
