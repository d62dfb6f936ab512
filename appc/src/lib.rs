//! The App Container (appc) specification 0.8.11 as a library.
//!
//! Names, labels, manifests and their validation, the ACI archive format (reading and deterministic
//! writing), image IDs, OpenPGP signatures and trust policy. No CLI, no printing, no global state:
//! another runtime or builder can stand on this crate.
//!
//! **What it is for:** anything that makes, checks or consumes ACIs — `acbuild` writes and signs
//! images with it, `acrun` reads, verifies and trusts them. **What it is not for:** recipes,
//! namespaces, stores or networking; those belong to the tools. It never touches the file system
//! outside the paths it is given, and every type holds only valid values (checked constructors;
//! serde goes through them).
//!
//! The modules follow the spec's nouns: [`name`] (`AcName`, `AcIdentifier`), [`labels`],
//! [`manifest`] (image and pod manifests, decoded with every error's JSON path), [`isolator`],
//! [`aci`] ([`aci::write`], [`aci::read`]), [`image_id`], [`sign`], [`trust`];
//! [`source_date_epoch`] is the one reading of `SOURCE_DATE_EPOCH`, [`atomic_file`] the one way a
//! file appears.
//!
//! # Example
//!
//! Read an ACI, check its manifest against the spec, and verify its detached signature:
//!
//! ```
//! use std::time::SystemTime;
//!
//! use appc::aci::{Builder, ReadOptions, WriteOptions};
//! use appc::manifest::ImageManifest;
//! use appc::sign::{PublicKey, SecretKey, verify_detached};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // An image to read: a manifest and an empty rootfs, written in memory.
//! let manifest = br#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/hello"}"#;
//! let mut aci = Vec::new();
//! Builder::new(manifest.to_vec(), WriteOptions::default()).write_to(&mut aci)?;
//!
//! // Read it: decompressed by magic, layout checked, image ID hashed while streaming.
//! let info = appc::aci::read::read(&aci[..], ReadOptions::default())?;
//! assert!(info.image_id.to_string().starts_with("sha512-"));
//!
//! // Check the manifest: every broken rule comes with its JSON path.
//! let image = ImageManifest::from_json(&info.manifest).map_err(|e| e.to_string())?;
//! assert_eq!(image.name.as_str(), "example.com/hello");
//!
//! // Verify a detached signature against the keys you trust; other bytes are refused.
//! let key = SecretKey::generate("Example <ops@example.com>")?;
//! let signature = key.sign_reader(&aci[..], SystemTime::now())?;
//! let trusted = [PublicKey::from_bytes(&key.armored_public()?)?];
//! let good = verify_detached(&trusted, &aci[..], &signature, SystemTime::now())?;
//! assert_eq!(good.signer, key.fingerprint());
//! assert!(verify_detached(&trusted, &b"other bytes"[..], &signature, SystemTime::now()).is_err());
//! # Ok(())
//! # }
//! ```

pub mod aci;
pub mod atomic_file;
pub mod detached_signature;
pub mod discovery;
pub mod image_id;
pub mod isolator;
pub mod labels;
pub mod manifest;
pub mod name;
pub mod quantity;
pub mod sign;
pub mod source_date_epoch;
pub mod trust;
mod trusted_path;
pub mod untrusted_text;
pub mod utc;
pub mod uuid;
pub mod validation;
pub mod version;

pub use image_id::ImageId;
