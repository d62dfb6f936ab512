//! The App Container (appc) specification 0.8.11 as a library.
//!
//! Names, labels, manifests and their validation, the ACI archive format (reading and deterministic
//! writing), image IDs, OpenPGP signatures and trust policy. No CLI, no printing, no global state:
//! another runtime or builder can stand on this crate.

pub mod aci;
pub mod atomic_file;
pub mod detached_signature;
pub mod image_id;
pub mod isolator;
pub mod labels;
pub mod manifest;
pub mod name;
pub mod quantity;
pub mod sign;
pub mod trust;
mod trusted_path;
pub mod untrusted_text;
pub mod uuid;
pub mod validation;
pub mod version;

pub use image_id::ImageId;
