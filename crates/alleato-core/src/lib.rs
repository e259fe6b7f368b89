//! Alleato's core: the domain model, the one error type, the ports (async traits every storage
//! adapter implements) and the services (use cases) that use only those ports.
//!
//! This crate depends on no I/O crate: no database driver, no HTTP, no object store. Adapters
//! depend on it, never the other way round.
//!
//! The services (and dual-write) are behind the default feature `services`: the API types, the
//! SDK and the adapters use the model and the ports without compiling password hashing or
//! JWTs.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "services")]
pub mod dual;
pub mod error;
pub mod ids;
pub mod migrations;
pub mod model;
pub mod ports;
pub mod rt;
mod secret;
#[cfg(feature = "services")]
pub mod services;
pub mod sweep;
pub mod time;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{BoxError, Error, Result, Surface};
pub use secret::Secret;
