//! Many Ed25519 equations at once, on threads of their own: `streams/ed25519.py`'s
//! `PendingVerdicts`. Each is exactly the check `ed25519.rs`'s `Ed25519Key.verify` makes
//! (the key decoded by `VerifyingKey::from_bytes`, then dalek's cofactorless `verify`), one
//! signature at a time: no batch equation, which accepts a different set. The acceptance
//! rules (canonical, not of small order, S < L) stay in Python, decided before this is asked.
//!
//! The work is copied out of the Python objects when the batch is made and runs without
//! the GIL on the process's verifier threads (`verify_pool.rs`, at most one per core)
//! while the caller goes on; `wait` verifies what is left on the caller's thread too
//! (still without the GIL), then waits for the checks other threads took.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::verify_pool::{offer, Job};

type RawKey = [u8; 32];

/// The signatures of a batch, taken one at a time by whichever thread asks next (the
/// pool's threads offered it, and the caller's in `wait`, which so never idles while one
/// is left): its distinct keys (each decoded once, by the first thread to need it), and per
/// signature its key's index, message and signature (any length: one not 64 bytes
/// verifies nothing).
struct Work {
    keys: Vec<(RawKey, OnceLock<Option<VerifyingKey>>)>,
    checks: Vec<(usize, Vec<u8>, Vec<u8>)>,
    next: AtomicUsize,
    verdicts: Vec<AtomicU8>,
    /// Checks whose verdict is stored, and its signal when that is all of them.
    finished: Mutex<usize>,
    all_finished: Condvar,
    failed: AtomicBool,
}

impl Job for Work {
    fn help(&self) {
        loop {
            let at = self.next.fetch_add(1, Ordering::Relaxed);
            let Some((key, message, signature)) = self.checks.get(at) else {
                return;
            };
            let (raw, point) = &self.keys[*key];
            // (a panic is counted as finished, so no one waits for it, and fails the batch)
            let valid = catch_unwind(AssertUnwindSafe(|| {
                let point = point.get_or_init(|| VerifyingKey::from_bytes(raw).ok());
                match (point, <[u8; 64]>::try_from(&signature[..])) {
                    (Some(point), Ok(raw)) => {
                        point.verify(message, &Signature::from_bytes(&raw)).is_ok()
                    }
                    _ => false,
                }
            }))
            .unwrap_or_else(|_| {
                self.failed.store(true, Ordering::Relaxed);
                false
            });
            // (read after `finished` counts it, whose lock orders this store before it)
            self.verdicts[at].store(u8::from(valid), Ordering::Relaxed);
            let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
            *finished += 1;
            if *finished == self.checks.len() {
                self.all_finished.notify_all();
            }
        }
    }
}

impl Work {
    /// Help until nothing is left to take, then wait for the checks other threads took.
    fn finish(&self) {
        self.help();
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        while *finished < self.checks.len() {
            finished = self
                .all_finished
                .wait(finished)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Signatures being verified by up to `threads` of the process's verifier threads;
/// `wait()` gives one byte per signature, 1 where it satisfies the equation under its
/// key, else 0.
#[pyclass(module = "assay_headmap")]
pub struct Ed25519Batch {
    work: Arc<Work>,
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
            finished: Mutex::new(0),
            all_finished: Condvar::new(),
            failed: AtomicBool::new(false),
        });
        let job: Arc<dyn Job> = work.clone();
        offer(&job, threads.min(work.checks.len()));
        Ok(Self { work, done: None })
    }

    /// The verdicts, in the order given: verifies what is left on this thread too, then
    /// waits for the checks the verifier threads took (all without the GIL).
    fn wait(&mut self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        if let Some(out) = self.done.as_ref() {
            return Ok(out.clone_ref(py));
        }
        let work = Arc::clone(&self.work);
        py.detach(move || work.finish());
        if self.work.failed.load(Ordering::Relaxed) {
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
