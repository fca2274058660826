//! The Ed25519 equation for `streams/ed25519.py`: cofactorless `encode([S]B − [k]A) == R`,
//! as libsodium's `crypto_sign_verify_detached` computes it. Which keys and signatures are
//! acceptable at all (docs/proof-bundle.md §4.8: canonical, not of small order, S < L) is
//! decided in Python before this is asked; a key is decompressed once, not per signature.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A public key as a curve point (None: the bytes are not on the curve, so nothing verifies).
#[pyclass(frozen, module = "assay_headmap")]
pub struct Ed25519Key {
    point: Option<VerifyingKey>,
}

#[pymethods]
impl Ed25519Key {
    #[new]
    fn new(raw: &[u8]) -> PyResult<Self> {
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| PyValueError::new_err("an Ed25519 public key is 32 bytes"))?;
        Ok(Self { point: VerifyingKey::from_bytes(&bytes).ok() })
    }

    /// Whether `signature` (64 bytes) satisfies the equation for `message` under this key.
    fn verify(&self, py: Python<'_>, message: &[u8], signature: &[u8]) -> bool {
        let (Some(point), Ok(raw)) = (self.point, <[u8; 64]>::try_from(signature)) else {
            return false;
        };
        let signature = Signature::from_bytes(&raw);
        py.detach(|| point.verify(message, &signature).is_ok())
    }
}
