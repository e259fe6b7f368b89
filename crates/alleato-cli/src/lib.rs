//! The tools of the `alleato` binary, beside the server it runs: [`migrate`] moves the data of
//! one stack to another and proves nothing was lost; [`ab`] runs one workload on two stacks and
//! compares them. The binary's `serve` and `print-config` are `alleato-server`'s.
//!
//! Their dependencies (progress bars, histograms, charts, checksums) live here, so a program
//! that embeds the server does not compile them.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod ab;
pub mod migrate;
