//! acbuild: KDL recipe → plan → ELF trace → deterministic ACI → signature.
//!
//! The binary (`src/main.rs`) is a thin shell over [`cli`]; the work lives in the modules below.

pub mod build;
pub mod build_cache;
pub mod cli;
pub mod deb;
pub mod error_kind;
pub mod image_manifest;
pub mod image_test;
pub mod lockfile;
pub mod oci;
pub mod pack;
pub mod package_mode;
pub mod plan;
pub mod publish;
pub mod recipe;
pub mod runtime_set;
pub mod sbom;
pub mod signature;
pub mod signing_key;
pub mod trace;
pub mod validate;
