//! The process's verifier threads: at most one per core this process may run on
//! (`std::thread::available_parallelism`, which reads the affinity mask and any cgroup
//! quota), started on first need and kept. `ed25519_batch.rs` hands each batch's work to
//! them instead of starting threads of its own: an audit starts one batch per 128
//! signatures (78 at once for a 10,000-event block) and one per signature of an unsealed
//! tail, each of which used to start a thread.
//!
//! A job is offered once per helper it asks for; an idle thread takes the oldest offer and
//! helps until the job has nothing left to take. Nothing waits on these threads for
//! correctness: whoever wants a job's results helps it too (`Job::help`), so a job offered
//! to no thread still ends. A forked child offers nothing: its copy of the pool has no
//! threads, and its lock may have been held by one of them at the fork.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use pyo3::prelude::*;

/// Work any number of threads may help with at once: `help` returns when nothing is left
/// to take.
pub trait Job: Send + Sync {
    fn help(&self);
}

struct Pool {
    offers: Mutex<VecDeque<Arc<dyn Job>>>,
    offered: Condvar,
    started: AtomicUsize,
    cap: usize,
    /// The process the threads belong to.
    pid: u32,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        offers: Mutex::new(VecDeque::new()),
        offered: Condvar::new(),
        started: AtomicUsize::new(0),
        cap: std::thread::available_parallelism().map_or(1, |n| n.get()),
        pid: std::process::id(),
    })
}

/// Offer `job` to `helpers` of the pool's threads (starting threads up to the cap).
pub fn offer(job: &Arc<dyn Job>, helpers: usize) {
    if helpers == 0 {
        return;
    }
    let pool = pool();
    if pool.pid != std::process::id() {
        return; // a forked child: its callers verify alone
    }
    let helpers = helpers.min(pool.cap); // more offers than threads would only queue
    {
        let mut offers = pool.offers.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..helpers {
            offers.push_back(Arc::clone(job));
        }
    }
    for _ in 0..helpers {
        pool.offered.notify_one();
    }
    for _ in 0..helpers {
        let started = pool.started.load(Ordering::Relaxed);
        if started >= pool.cap
            || pool
                .started
                .compare_exchange(started, started + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            break;
        }
        let spawned = std::thread::Builder::new()
            .name("assay-ed25519".into())
            .spawn(|| work(pool));
        if spawned.is_err() {
            pool.started.fetch_sub(1, Ordering::Relaxed); // the callers help instead
            break;
        }
    }
}

fn work(pool: &'static Pool) {
    loop {
        let job = {
            let mut offers = pool.offers.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = offers.pop_front() {
                    break job;
                }
                offers = pool.offered.wait(offers).unwrap_or_else(|e| e.into_inner());
            }
        };
        job.help();
    }
}

/// How many verifier threads this process has started, the most it will start
/// (tests/streams/test_ed25519.py holds the cap against `os.sched_getaffinity`), and how
/// many offers wait for a thread (a forked child must leave none).
#[pyfunction]
pub fn ed25519_threads() -> (usize, usize, usize) {
    let pool = pool();
    let queued = pool.offers.lock().unwrap_or_else(|e| e.into_inner()).len();
    (pool.started.load(Ordering::Relaxed), pool.cap, queued)
}
