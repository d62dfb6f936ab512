//! The appc metadata service (spec §5): per-pod identity and an HMAC signer whose key never
//! enters a pod. `routes` is the policy (what each request gets, pure), `server` the mechanism
//! (sockets in the pod's network namespace, threads), `key` the store's HMAC key, `signer` the
//! MAC construction.

pub mod key;
pub mod routes;
pub mod server;
pub mod signer;

/// A fresh pod token: 256 random bits, hex. It goes into the pod's `AC_METADATA_URL` and is the
/// only way the service knows which pod is asking.
pub fn new_token() -> Result<String, key::KeyError> {
    let mut b = [0u8; 32];
    key::random(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
