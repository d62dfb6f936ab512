//! acrun: verify, store and run App Container Images.
//!
//! The binary (`src/main.rs`) is a thin shell over [`cli`]; the trust commands live in
//! [`trust_cmd`], image verification in [`verify_cmd`], the image store in [`store`] (with
//! [`fetch`] and the [`image_cmd`] commands over it).

pub mod auth;
pub mod beneath;
pub mod cli;
pub mod discovery;
pub mod enter_cmd;
pub mod fetch;
pub mod image_cmd;
mod image_name;
pub mod isolators;
pub mod metadata;
pub mod metadata_cmd;
pub mod pod;
pub mod pod_cmd;
pub mod pod_manifest_file;
pub mod run_cmd;
pub mod store;
pub mod supervisor;
pub mod trust_cmd;
pub mod verify_cmd;
