//! The TLS connector, built once and shared: by every connection made with
//! one set of options (a handle's, a `Config`'s and its clones',
//! reconnections included), and by every set of equal options in the
//! process.
//!
//! Building one is the expensive part of TLS with native-tls's OpenSSL
//! backend: it parses the system's CA bundle, twice (see
//! [`Material::build`](super::Material)). So the caller's part (the roots
//! added, the identity) is read and checked before the first connection,
//! where its errors belong, and the connector is built while the first
//! connection waits on the network (or at the handshake, with
//! opportunistic TLS), and only when no connector for equal options
//! exists in the process yet.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use native_tls::TlsConnector;
use sha2::{Digest, Sha256};

use super::{Material, TlsOptions};
use crate::error::Error;

/// How long a connector serves before the next connection builds it
/// again, so that a long-running program sees the system's roots change:
/// a day, as curl's CA cache (`CURLOPT_CA_CACHE_TIMEOUT`).
const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The most connectors the process keeps for distinct options; the
/// oldest goes when a new one comes.
const PROCESS_ENTRIES: usize = 16;

/// What names a set of options: a SHA-256 digest of everything that
/// shapes the connector, the contents of root files included (so a
/// changed file is other options). A digest, so that neither the
/// identity's key and password nor large bundles are kept as keys.
pub(crate) type Key = [u8; 32];

/// Makes a [`Key`]: each field length-prefixed, so that no two sets of
/// fields run together into the same bytes.
pub(crate) struct KeyHasher(Sha256);

impl KeyHasher {
    pub fn new() -> Self {
        KeyHasher(Sha256::new())
    }

    pub fn flag(&mut self, on: bool) {
        self.bytes(&[u8::from(on)]);
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    pub fn finish(self) -> Key {
        self.0.finalize().into()
    }
}

/// The connector of one set of options, shared by the clones of those
/// options. A change of options replaces it with a new, empty one
/// ([`TlsOptions::changed`]).
#[derive(Clone, Default)]
pub(crate) struct SharedConnector(Arc<Mutex<State>>);

#[derive(Default)]
enum State {
    /// Nothing read yet.
    #[default]
    Unread,
    /// The caller's part read and checked; built on first use.
    Pending { material: Box<Material>, key: Key },
    Built {
        connector: TlsConnector,
        at: Instant,
    },
}

impl fmt::Debug for SharedConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never waits: another thread may be building it.
        f.write_str(match self.0.try_lock().as_deref() {
            Ok(State::Unread) => "unread",
            Ok(State::Pending { .. }) => "pending",
            Ok(State::Built { .. }) => "built",
            Err(_) => "busy",
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state is whole between statements: a panic elsewhere while it
    // was held leaves nothing half-done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SharedConnector {
    /// Gets ready to connect with `options`, whose connector this is.
    /// Before the first connection: reads and checks the caller's part,
    /// so that its errors come before anything goes on the network, and
    /// takes the process's connector for equal options when there is
    /// one. Nothing to do when it is built (and less than a day old).
    pub fn prepare(&self, options: &TlsOptions) -> Result<(), Error> {
        let mut state = lock(&self.0);
        match &*state {
            State::Built { at, .. } if at.elapsed() < MAX_AGE => return Ok(()),
            State::Pending { .. } => return Ok(()),
            State::Built { .. } | State::Unread => {}
        }
        let (material, key) = options.material()?;
        *state = match process::find(&key) {
            Some((connector, at)) => State::Built { connector, at },
            None => State::Pending {
                material: Box::new(material),
                key,
            },
        };
        Ok(())
    }

    /// The connector, built now if it was not (or when the build under
    /// way is done).
    pub fn get(&self) -> Result<TlsConnector, Error> {
        let mut state = lock(&self.0);
        let (connector, at) = match &*state {
            State::Built { connector, .. } => return Ok(connector.clone()),
            // On failure it stays pending: the next use tries again and
            // says why.
            State::Pending { material, key } => process::find_or_build(*key, material)?,
            State::Unread => {
                return Err(Error::InvalidInput(
                    "TLS requested but not configured".into(),
                ))
            }
        };
        *state = State::Built {
            connector: connector.clone(),
            at,
        };
        Ok(connector)
    }

    /// Starts building the connector on a thread of its own when it is
    /// not built yet, so that the build (the system's roots) runs while
    /// the caller waits on the network (the connection, the greeting);
    /// [`get`](Self::get) then waits for it, as the state's lock is held
    /// while building. For a session that will do TLS unless it fails.
    pub fn build_ahead(&self) {
        if !matches!(*lock(&self.0), State::Pending { .. }) {
            return;
        }
        let this = self.clone();
        // Bounded: one build. Its error, if any, is said by the `get` of
        // the session that needs it.
        let spawned = std::thread::Builder::new()
            .name("smtpc-tls-roots".into())
            .spawn(move || {
                let _ = this.get();
            });
        // No thread to be had: the session builds it when it needs it.
        drop(spawned);
    }
}

/// The process's connectors, one per set of options, at most
/// [`PROCESS_ENTRIES`].
mod process {
    use super::*;

    struct Entry {
        key: Key,
        connector: TlsConnector,
        at: Instant,
    }

    impl Entry {
        /// Whether it is the connector for `key` and less than a day old.
        fn serves(&self, key: &Key) -> bool {
            self.key == *key && self.at.elapsed() < MAX_AGE
        }
    }

    static CONNECTORS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

    /// The connector for `key`, when one less than a day old is kept.
    pub(super) fn find(key: &Key) -> Option<(TlsConnector, Instant)> {
        lock(&CONNECTORS)
            .iter()
            .find(|e| e.serves(key))
            .map(|e| (e.connector.clone(), e.at))
    }

    /// The connector for `key`: the one kept, or one built from
    /// `material` and kept.
    pub(super) fn find_or_build(
        key: Key,
        material: &Material,
    ) -> Result<(TlsConnector, Instant), Error> {
        // Held while building, so that handles with equal options that
        // connect at once build one connector, not one each.
        let mut list = lock(&CONNECTORS);
        if let Some(e) = list.iter().find(|e| e.serves(&key)) {
            return Ok((e.connector.clone(), e.at));
        }
        let connector = material.build()?;
        #[cfg(test)]
        counted::built(&key);
        let at = Instant::now();
        list.retain(|e| e.key != key && e.at.elapsed() < MAX_AGE);
        if list.len() >= PROCESS_ENTRIES {
            if let Some(oldest) = (0..list.len()).min_by_key(|&i| list[i].at) {
                list.swap_remove(oldest);
            }
        }
        list.push(Entry {
            key,
            connector: connector.clone(),
            at,
        });
        Ok((connector, at))
    }
}

/// How many connectors were built for each set of options (for the
/// tests: they run in parallel, each with options of its own).
#[cfg(test)]
pub(crate) mod counted {
    use super::*;

    static BUILT: Mutex<Vec<(Key, usize)>> = Mutex::new(Vec::new());

    pub(super) fn built(key: &Key) {
        let mut list = lock(&BUILT);
        match list.iter_mut().find(|(k, _)| k == key) {
            Some((_, n)) => *n += 1,
            None => list.push((*key, 1)),
        }
    }

    /// The connectors built so far for options equal to `options`.
    pub(crate) fn builds(options: &TlsOptions) -> usize {
        let key = options.material().expect("options that read").1;
        lock(&BUILT)
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, n)| *n)
    }
}
