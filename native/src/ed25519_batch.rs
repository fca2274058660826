//! Many Ed25519 equations at once, on threads of their own: `streams/ed25519.py`'s
//! `PendingVerdicts`. Each is exactly the check `ed25519.rs`'s `Ed25519Key.verify` makes
//! (the key decoded by `VerifyingKey::from_bytes`, then dalek's cofactorless `verify`), one
//! signature at a time: no batch equation, which accepts a different set. The acceptance
//! rules (canonical, not of small order, S < L) stay in Python, decided before this is asked.
//!
//! The work is copied out of the Python objects when the batch is made and runs without
//! the GIL while the caller goes on; `wait` verifies what is left on the caller's thread
//! too (still without the GIL), then joins.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

type RawKey = [u8; 32];

/// The signatures of a batch, taken one at a time by whichever thread asks next (the
/// batch's own threads, and the caller's in `wait`, which so never idles while one is
/// left): its distinct keys (each decoded once, by the first thread to need it), and per
/// signature its key's index, message and signature (any length: one not 64 bytes
/// verifies nothing).
struct Work {
    keys: Vec<(RawKey, OnceLock<Option<VerifyingKey>>)>,
    checks: Vec<(usize, Vec<u8>, Vec<u8>)>,
    next: AtomicUsize,
    verdicts: Vec<AtomicU8>,
}

impl Work {
    fn help(&self) {
        loop {
            let at = self.next.fetch_add(1, Ordering::Relaxed);
            let Some((key, message, signature)) = self.checks.get(at) else {
                return;
            };
            let (raw, point) = &self.keys[*key];
            let point = point.get_or_init(|| VerifyingKey::from_bytes(raw).ok());
            let valid = match (point, <[u8; 64]>::try_from(&signature[..])) {
                (Some(point), Ok(raw)) => {
                    point.verify(message, &Signature::from_bytes(&raw)).is_ok()
                }
                _ => false,
            };
            // (read after the threads are joined, which orders this store before it)
            self.verdicts[at].store(u8::from(valid), Ordering::Relaxed);
        }
    }
}

/// Signatures being verified on `threads` threads; `wait()` gives one byte per signature,
/// 1 where it satisfies the equation under its key, else 0.
#[pyclass(module = "assay_headmap")]
pub struct Ed25519Batch {
    work: Arc<Work>,
    running: Vec<JoinHandle<()>>,
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
        let mut index: HashMap<RawKey, usize> = HashMap::new();
        let mut distinct = Vec::new();
        let mut checks = Vec::with_capacity(keys.len());
        for ((key, message), signature) in keys.iter().zip(&messages).zip(&signatures) {
            let raw: RawKey = key
                .as_bytes()
                .try_into()
                .map_err(|_| PyValueError::new_err("an Ed25519 public key is 32 bytes"))?;
            let at = *index.entry(raw).or_insert_with(|| {
                distinct.push((raw, OnceLock::new()));
                distinct.len() - 1
            });
            checks.push((
                at,
                message.as_bytes().to_vec(),
                signature.as_bytes().to_vec(),
            ));
        }
        let verdicts = checks.iter().map(|_| AtomicU8::new(0)).collect();
        let work = Arc::new(Work {
            keys: distinct,
            checks,
            next: AtomicUsize::new(0),
            verdicts,
        });
        let running = (0..threads.min(work.checks.len()))
            .map(|_| {
                let work = Arc::clone(&work);
                std::thread::spawn(move || work.help())
            })
            .collect();
        Ok(Self {
            work,
            running,
            done: None,
        })
    }

    /// The verdicts, in the order given: verifies what is left on this thread too, then
    /// joins the batch's threads (all without the GIL).
    fn wait(&mut self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        if let Some(out) = self.done.as_ref() {
            return Ok(out.clone_ref(py));
        }
        let handles = std::mem::take(&mut self.running);
        let work = Arc::clone(&self.work);
        let joined = py.detach(move || {
            work.help();
            let joins = handles.into_iter().map(|handle| handle.join().is_ok());
            joins.fold(true, |all, joined| all & joined) // every one joined
        });
        if !joined {
            return Err(PyRuntimeError::new_err("a verifier thread failed"));
        }
        let verdicts: Vec<u8> = self
            .work
            .verdicts
            .iter()
            .map(|v| v.load(Ordering::Relaxed))
            .collect();
        let out = PyBytes::new(py, &verdicts).unbind();
        self.done = Some(out.clone_ref(py));
        Ok(out)
    }
}
