//! Password hashing: argon2id, always off the async runtime, at most one hash per core at
//! a time (a login storm queues here instead of starving every other request), on threads
//! of its own at a lower scheduling priority (nice 10): a storm of logins uses every core
//! the rest of the server leaves idle, and reads keep theirs (BENCHMARKS.md, login storm).
//!
//! Each hash needs 19 MiB of working memory. Allocated per hash, glibc keeps the freed
//! buffers in per-thread arenas and a login storm leaves the process at hundreds of MiB;
//! so the hasher keeps one buffer per permit and reuses it. After a quiet spell the
//! buffers are released and the heap trimmed (what a burst of any work left in glibc's
//! arenas too), so an idle server does not hold them.

use std::sync::{Arc, Mutex};

use accord_domain::identity::Password;
use accord_domain::{Error, Result};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordHashParams {
    /// OWASP's recommendation for argon2id (m=19 MiB, t=2, p=1).
    pub const OWASP: Self = Self {
        memory_kib: 19456,
        iterations: 2,
        parallelism: 1,
    };

    /// For test builds only: cheap enough that a suite of hundreds of logins stays fast.
    /// Not compiled into release builds.
    #[cfg(debug_assertions)]
    pub const DANGER_TEST_MINIMUM: Self = Self {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
}

pub struct Verified {
    pub ok: bool,
    /// The stored hash used other parameters than today's: store a fresh one.
    pub needs_rehash: bool,
}

pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Hashes waiting for a permit (`/metrics`).
    waiting: std::sync::atomic::AtomicUsize,
    threads: usize,
    /// The hashing threads' queue (one thread per permit).
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
    /// Working memory for hashes at `params`, one buffer per permit, reused.
    memory: Mutex<Vec<Vec<Block>>>,
    /// When a hash last finished, and whether the quiet spell since has been used to
    /// release the buffers and trim the heap.
    last_used: Mutex<(Option<std::time::Instant>, bool)>,
    /// Verified against when the account does not exist, so that an unknown username
    /// costs the same time as a wrong password.
    dummy_hash: String,
}

type Job = Box<dyn FnOnce() + Send>;

/// [`PasswordHasher::queue`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HashingQueue {
    pub running: usize,
    pub waiting: usize,
}

/// Starts `n` hashing threads at nice 10, taking jobs from one queue. They end when the
/// hasher (the queue's sender) is dropped.
fn hashing_threads(n: usize) -> Result<std::sync::mpsc::Sender<Job>> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = Arc::clone(&rx);
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panicking job loses its answer (the caller gets an error),
                        // not the thread.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| Error::internal(format!("hashing thread: {e}")))?;
    }
    Ok(tx)
}

/// Nice 10 for the calling thread (on Linux a thread has its own nice value). Failing to
/// lower one's own priority is harmless: hashing then competes as before.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread (who = 0) only changes its scheduling weight.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

impl PasswordHasher {
    /// Runs `work` on a hashing thread and waits for it without blocking the runtime.
    async fn on_hashing_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        self.jobs
            .lock()
            .map_err(Error::internal)?
            .send(job)
            .map_err(|_| Error::internal("the hashing threads are gone"))?;
        rx.await.map_err(Error::internal)
    }

    pub fn new(p: PasswordHashParams) -> Result<Self> {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let mut hasher = Self {
            params,
            permits: Arc::new(Semaphore::new(cores)),
            waiting: Default::default(),
            threads: cores,
            jobs: Mutex::new(hashing_threads(cores)?),
            memory: Mutex::new(Vec::with_capacity(cores)),
            last_used: Mutex::new((None, false)),
            dummy_hash: String::new(),
        };
        hasher.dummy_hash = hasher.hash_blocking("accord-dummy-password")?;
        Ok(hasher)
    }

    /// Runs argon2id into `out`, in a reused buffer when the parameters are ours.
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let blocks = params.block_count();
        let ours = blocks == self.params.block_count();
        let reused = if ours {
            self.memory.lock().map_err(Error::internal)?.pop()
        } else {
            None
        };
        let mut memory = reused.unwrap_or_else(|| vec![Block::default(); blocks]);
        let result = argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory)
            .map_err(|e| Error::internal(format!("argon2: {e}")));
        if ours {
            self.memory.lock().map_err(Error::internal)?.push(memory);
        }
        *self.last_used.lock().map_err(Error::internal)? = (Some(std::time::Instant::now()), false);
        result
    }

    /// Once no hash has run for `quiet`: releases the kept buffers and gives freed heap
    /// memory back to the system (once per quiet spell). Answers how many buffers went.
    pub fn release_if_idle(&self, quiet: std::time::Duration) -> usize {
        {
            let Ok(mut last) = self.last_used.lock() else {
                return 0;
            };
            let idle = last.0.is_none_or(|t| t.elapsed() >= quiet);
            if !idle || last.1 {
                return 0;
            }
            last.1 = true;
        }
        let released = match self.memory.lock() {
            Ok(mut kept) => std::mem::take(&mut *kept),
            Err(_) => return 0,
        };
        let n = released.len();
        drop(released);
        trim_heap();
        n
    }

    fn hash_blocking(&self, password: &str) -> Result<String> {
        let bad = |e: argon2::password_hash::Error| Error::internal(format!("argon2: {e}"));
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes).map_err(bad)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.compute(
            &argon2,
            &self.params,
            password.as_bytes(),
            salt_bytes,
            &mut out,
        )?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(bad)?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(bad)?),
        };
        Ok(phc.to_string())
    }

    /// `Some(needs_rehash)` if `password` matches the PHC string `stored`.
    fn verify_blocking(&self, password: &str, stored: &str) -> Option<bool> {
        let parsed = PasswordHash::new(stored).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .ok()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed).ok()?;
        let mut salt_bytes = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt_bytes).ok()?;
        let expected = parsed.hash?;
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        self.compute(&argon2, &params, password.as_bytes(), salt, &mut out)
            .ok()?;
        if !bool::from(out.ct_eq(expected.as_bytes())) {
            return None;
        }
        let same_cost = (params.m_cost(), params.t_cost(), params.p_cost())
            == (
                self.params.m_cost(),
                self.params.t_cost(),
                self.params.p_cost(),
            );
        Some(algorithm != Algorithm::Argon2id || !same_cost)
    }

    /// Hashes running and waiting now (`/metrics`).
    pub fn queue(&self) -> HashingQueue {
        HashingQueue {
            running: self.threads - self.permits.available_permits().min(self.threads),
            waiting: self.waiting.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// A hashing thread's turn, counted as waiting until it comes (or the caller goes).
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        use std::sync::atomic::Ordering::Relaxed;
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Relaxed);
            }
        }
        self.waiting.fetch_add(1, Relaxed);
        let _waiting = Waiting(&self.waiting);
        self.permits.acquire().await.map_err(Error::internal)
    }

    pub async fn hash(self: &Arc<Self>, password: &Password) -> Result<String> {
        let _permit = self.turn().await?;
        let this = Arc::clone(self);
        let password = password.clone();
        self.on_hashing_thread(move || this.hash_blocking(password.expose()))
            .await?
    }

    /// Verifies `password` against `stored` (or against a dummy when there is no account).
    pub async fn verify(
        self: &Arc<Self>,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verified> {
        let _permit = self.turn().await?;
        let this = Arc::clone(self);
        let password = password.clone();
        let exists = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        self.on_hashing_thread(move || {
            match this.verify_blocking(password.expose(), &stored) {
                Some(needs_rehash) if exists => Ok(Verified {
                    ok: true,
                    needs_rehash,
                }),
                Some(_) => Ok(Verified {
                    ok: false,
                    needs_rehash: false,
                }),
                None => {
                    if PasswordHash::new(&stored).is_err() {
                        // A corrupt hash still costs one hash, and never matches.
                        this.hash_blocking(password.expose())?;
                    }
                    Ok(Verified {
                        ok: false,
                        needs_rehash: false,
                    })
                }
            }
        })
        .await?
    }
}

/// Returns freed heap memory to the system: glibc keeps large freed blocks in its arenas
/// (its mmap threshold rises after the first 19 MiB buffer is freed).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn kept_buffers_are_released_after_a_quiet_spell() {
        let cheap = Arc::new(PasswordHasher::new(PasswordHashParams::DANGER_TEST_MINIMUM).unwrap());
        // The dummy hash at start left one buffer.
        assert_eq!(
            cheap.release_if_idle(std::time::Duration::from_secs(3600)),
            0,
            "not idle yet"
        );
        assert_eq!(cheap.release_if_idle(std::time::Duration::ZERO), 1);
        assert_eq!(
            cheap.release_if_idle(std::time::Duration::ZERO),
            0,
            "nothing left"
        );
        // Hashing afterwards allocates afresh and works.
        let pw = Password::new_for("correct horse", None).unwrap();
        let hash = cheap.hash(&pw).await.unwrap();
        assert!(cheap.verify(&pw, Some(&hash)).await.unwrap().ok);
        assert_eq!(cheap.release_if_idle(std::time::Duration::ZERO), 1);
    }

    #[tokio::test]
    async fn hashes_verify_and_report_outdated_parameters() {
        let cheap = Arc::new(PasswordHasher::new(PasswordHashParams::DANGER_TEST_MINIMUM).unwrap());
        let pw = Password::new_for("correct horse", None).unwrap();
        let hash = cheap.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let v = cheap.verify(&pw, Some(&hash)).await.unwrap();
        assert!(v.ok && !v.needs_rehash);
        let wrong = Password::offered("wrong horse").unwrap();
        assert!(!cheap.verify(&wrong, Some(&hash)).await.unwrap().ok);
        // The dummy never matches, even for its own password.
        let dummy = Password::offered("accord-dummy-password").unwrap();
        assert!(!cheap.verify(&dummy, None).await.unwrap().ok);
        assert!(!cheap.verify(&pw, Some("not a hash")).await.unwrap().ok);
        // Hashes made by the argon2 crate's own PHC API verify too, and vice versa.
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(64, 1, 1, None).unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = reference
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(cheap.verify(&pw, Some(&theirs)).await.unwrap().ok);
        assert!(reference
            .verify_password(b"correct horse", &PasswordHash::new(&hash).unwrap())
            .is_ok());
        // The working memory is kept for reuse, not freed.
        assert!(!cheap.memory.lock().unwrap().is_empty());

        let stronger = PasswordHashParams {
            memory_kib: 128,
            ..PasswordHashParams::DANGER_TEST_MINIMUM
        };
        let stronger = Arc::new(PasswordHasher::new(stronger).unwrap());
        let v = stronger.verify(&pw, Some(&hash)).await.unwrap();
        assert!(v.ok && v.needs_rehash);
    }
}
