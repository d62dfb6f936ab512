fn main() -> std::process::ExitCode {
    acrun::cli::main()
}

/// Runs before every other constructor of the binary (a prioritised `.init_array` entry sorts
/// before the plain ones, in GNU ld and in lld): tells OpenSSL, once and for the whole process,
/// not to load `openssl.cnf` nor to fill its legacy cipher and digest name tables.
///
/// Why: sequoia's OpenSSL backend has a constructor that calls `OPENSSL_init_ssl`, so every acrun
/// command — `acrun run` of an image already in the store, which verifies nothing, included —
/// paid for both at start-up: 0.6 ms on the machine of BENCHMARKS.md, a tenth of a pod start.
/// OpenSSL runs each part of its initialisation once; the calls that come later find these
/// parts done. Nothing acrun does needs them: sequoia fetches its algorithms from OpenSSL 3's
/// providers (the default one, and the legacy one it loads itself), not by legacy name; TLS is
/// rustls, not OpenSSL. So acrun's signature checks do not depend on a host's `openssl.cnf`.
#[used]
#[unsafe(link_section = ".init_array.00099")]
static OPENSSL_LEAN_INIT: extern "C" fn() = openssl_lean_init;

extern "C" fn openssl_lean_init() {
    // Flag values of OpenSSL 3's <openssl/crypto.h>.
    const NO_ADD_ALL_CIPHERS: u64 = 0x10;
    const NO_ADD_ALL_DIGESTS: u64 = 0x20;
    const NO_LOAD_CONFIG: u64 = 0x80;
    const NO_ATEXIT: u64 = 0x0008_0000;
    unsafe extern "C" {
        fn OPENSSL_init_crypto(opts: u64, settings: *const std::ffi::c_void) -> std::ffi::c_int;
    }
    // SAFETY: OPENSSL_init_crypto may be called at any time, from any thread, with null
    // settings; a failure here only means the later, default initialisation does the work.
    unsafe {
        OPENSSL_init_crypto(
            NO_ADD_ALL_CIPHERS | NO_ADD_ALL_DIGESTS | NO_LOAD_CONFIG | NO_ATEXIT,
            std::ptr::null(),
        );
    }
}
