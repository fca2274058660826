//! Many Ed25519 equations at once, on threads of their own: `streams/ed25519.py`'s
//! `start_verifying`. Each is exactly the check `ed25519.rs`'s `Ed25519Key.verify` makes
//! (the key decoded by `VerifyingKey::from_bytes`, then dalek's cofactorless `verify`), one
//! signature at a time: no batch equation, which accepts a different set. The acceptance
//! rules (canonical, not of small order, S < L) stay in Python, decided before this is asked.
//!
//! The work is copied out of the Python objects when the batch is made and runs without
//! the GIL while the caller goes on; `wait` joins it.

use std::collections::HashMap;
use std::thread::JoinHandle;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

type RawKey = [u8; 32];

/// One thread's share: its distinct keys, and per signature its key's index, message and
/// signature (any length: one not 64 bytes verifies nothing).
struct Share {
    keys: Vec<RawKey>,
    checks: Vec<(usize, Vec<u8>, Vec<u8>)>,
}

impl Share {
    fn run(self) -> Vec<u8> {
        let points: Vec<Option<VerifyingKey>> = self
            .keys
            .iter()
            .map(|raw| VerifyingKey::from_bytes(raw).ok())
            .collect();
        self.checks
            .iter()
            .map(|(key, message, signature)| {
                let (Some(point), Ok(raw)) = (points[*key], <[u8; 64]>::try_from(&signature[..]))
                else {
                    return 0;
                };
                u8::from(point.verify(message, &Signature::from_bytes(&raw)).is_ok())
            })
            .collect()
    }
}

/// Signatures being verified on `threads` threads; `wait()` gives one byte per signature,
/// 1 where it satisfies the equation under its key, else 0.
#[pyclass(module = "assay_headmap")]
pub struct Ed25519Batch {
    running: Vec<JoinHandle<Vec<u8>>>,
    done: Option<Py<PyBytes>>,
}

#[pymethods]
impl Ed25519Batch {
    #[new]
    fn new(
        keys: Vec<Bound<'_, PyBytes>>,
        messages: Vec<Bound<'_, PyBytes>>,
        signatures: Vec<Bound<'_, PyBytes>>,
        threads: usize,
    ) -> PyResult<Self> {
        if keys.len() != messages.len() || keys.len() != signatures.len() {
            return Err(PyValueError::new_err(
                "keys, messages and signatures differ in length",
            ));
        }
        let size = keys.len().div_ceil(threads.max(1)).max(1);
        let mut shares: Vec<Share> = Vec::new();
        let mut index: HashMap<RawKey, usize> = HashMap::new();
        for (i, ((key, message), signature)) in
            keys.iter().zip(&messages).zip(&signatures).enumerate()
        {
            let raw: RawKey = key
                .as_bytes()
                .try_into()
                .map_err(|_| PyValueError::new_err("an Ed25519 public key is 32 bytes"))?;
            if i % size == 0 {
                shares.push(Share {
                    keys: Vec::new(),
                    checks: Vec::new(),
                });
                index.clear();
            }
            let share = shares.last_mut().expect("a share was pushed");
            let at = *index.entry(raw).or_insert_with(|| {
                share.keys.push(raw);
                share.keys.len() - 1
            });
            share.checks.push((
                at,
                message.as_bytes().to_vec(),
                signature.as_bytes().to_vec(),
            ));
        }
        let running = shares
            .into_iter()
            .map(|share| std::thread::spawn(move || share.run()));
        Ok(Self {
            running: running.collect(),
            done: None,
        })
    }

    /// The verdicts, in the order given (waits for the threads, without the GIL).
    fn wait(&mut self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        if let Some(out) = self.done.as_ref() {
            return Ok(out.clone_ref(py));
        }
        let handles = std::mem::take(&mut self.running);
        let parts = py.detach(|| {
            handles
                .into_iter()
                .map(JoinHandle::join)
                .collect::<Vec<_>>()
        });
        let mut verdicts = Vec::new();
        for part in parts {
            verdicts.extend(part.map_err(|_| PyRuntimeError::new_err("a verifier thread failed"))?);
        }
        let out = PyBytes::new(py, &verdicts).unbind();
        self.done = Some(out.clone_ref(py));
        Ok(out)
    }
}
