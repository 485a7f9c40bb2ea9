//! The span store's insides, under its lock: series and their time buckets, the age index
//! that expires and evicts oldest first, and the count of bytes held.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::merge::BucketData;
use super::reservoir::{Reservoir, fnv1a, mix};
use super::span::{MAX_NAME_BYTES, SpanFacts};
use super::windows::SpanStore;

/// Separates service, version and operation in a series key: 0xFF never occurs in UTF-8, so
/// no name can forge another series' key.
const SEPARATOR: u8 = 0xFF;

/// Bytes of the store that do not depend on what it holds, with room for small collections'
/// minimum capacities.
pub(crate) const FIXED_BYTES: usize = 4096;

/// Bytes of one entry of the age index (a `BTreeSet<(u64, usize)>`): 16 bytes of key in B-tree
/// nodes that are at least half full, with their edges.
const AGE_ENTRY_BYTES: usize = 40;

/// What the store's settings mean under the lock, in the units used there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Bucket width in nanoseconds: span times are nanoseconds.
    pub window_ns: u64,
    /// Durations kept per bucket.
    pub reservoir: usize,
    /// Buckets alive at once.
    pub max_buckets: usize,
}

/// Every series and bucket; lives inside the store's `Mutex`.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    /// Series by id; `None` marks a free slot, so ids in `by_age` stay valid.
    series: Vec<Option<Series>>,
    /// Free slots of `series`, reused before the vector grows.
    free: Vec<usize>,
    /// Series id by key (`service 0xFF version 0xFF operation`).
    index: HashMap<Arc<[u8]>, usize>,
    /// Every bucket as (start, series id): the oldest first, for expiry and eviction.
    by_age: BTreeSet<(u64, usize)>,
    /// Buckets alive (`by_age.len()`, kept to compare with the bound cheaply).
    buckets: usize,
    /// Buckets evicted before their time.
    evicted: u64,
    /// The incarnation of the next bucket made: a bucket evicted and made again for late spans
    /// is another bucket, and its row in the store another row.
    next_incarnation: u64,
}

/// A closed bucket not yet written to the store as it is now, with its series' names.
#[derive(Debug, Clone, PartialEq)]
pub struct FlushItem {
    /// `service.name`.
    pub service: String,
    /// The version.
    pub version: String,
    /// The bucket (its operation, counts and reservoir).
    pub bucket: BucketData,
}

/// One service, version and operation.
#[derive(Debug)]
struct Series {
    /// The key, shared with the index (one copy of the names).
    key: Arc<[u8]>,
    /// Hash of the key, the root of every reservoir seed of the series.
    seed: u64,
    /// Buckets sorted by start; never empty (an empty series is removed).
    buckets: Vec<Bucket>,
}

/// One window of one series.
#[derive(Debug)]
struct Bucket {
    /// Start of the bucket, nanoseconds since the Unix epoch; a multiple of the window.
    start_ns: u64,
    /// Spans that ended in the bucket.
    total: u64,
    /// Of which errors.
    errors: u64,
    /// A uniform sample of their durations.
    reservoir: Reservoir,
    /// Its serial number in this process (see [`Buckets::next_incarnation`]).
    incarnation: u64,
    /// `total` when it was last written to the store (0: never): a bucket whose total moved on
    /// since, late spans included, is written again.
    flushed_total: u64,
}

/// The worst bytes one bucket can cost, its share of a series included (each series has a
/// bucket, so there are at most as many series as buckets).
pub(crate) fn worst_bytes_per_bucket(reservoir: usize) -> usize {
    let index_entry = size_of::<(Arc<[u8]>, usize)>() + 1;
    let series = 2 * size_of::<Option<Series>>()
        + 2 * size_of::<usize>()
        + arc_bytes(3 * MAX_NAME_BYTES + 2)
        // A hash table is at most 8/7 full after growing to a power of two: under 3 slots each.
        + 3 * index_entry;
    // Bucket vectors are shrunk once a quarter full, so each bucket costs at most 4 slots.
    reservoir * size_of::<f64>() + 4 * size_of::<Bucket>() + AGE_ENTRY_BYTES + series
}

/// Heap bytes of an `Arc<[u8]>` of `len` bytes: the two reference counts and the bytes.
fn arc_bytes(len: usize) -> usize {
    len + 2 * size_of::<usize>()
}

/// Writes the series key of `facts` into `key`, reusing its allocation.
pub(crate) fn pack(key: &mut Vec<u8>, facts: &SpanFacts<'_>) {
    pack_names(key, facts.service, &facts.version, facts.operation);
}

/// Writes the series key of the three names into `key`, reusing its allocation.
pub(crate) fn pack_names(key: &mut Vec<u8>, service: &str, version: &str, operation: &str) {
    key.clear();
    key.extend_from_slice(service.as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(version.as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(operation.as_bytes());
}

/// The seed root of a series, the same in every process: FNV-1a of its key.
pub(crate) fn series_seed(service: &str, version: &str, operation: &str) -> u64 {
    let mut key = Vec::with_capacity(service.len() + version.len() + operation.len() + 2);
    pack_names(&mut key, service, version, operation);
    fnv1a(&key)
}

impl Series {
    /// Whether the series is `service`/`version` (and `operation`, when given).
    fn matches(&self, service: &str, version: &str, operation: Option<&str>) -> bool {
        let mut parts = self.key.splitn(3, |byte| *byte == SEPARATOR);
        parts.next() == Some(service.as_bytes())
            && parts.next() == Some(version.as_bytes())
            && operation.is_none_or(|operation| parts.next() == Some(operation.as_bytes()))
    }

    /// Part `n` of the key (0 service, 1 version, 2 operation); the key was packed from UTF-8
    /// names split by a byte UTF-8 never holds, so each part is UTF-8 again.
    fn part(&self, n: usize) -> &str {
        self.key
            .split(|byte| *byte == SEPARATOR)
            .nth(n)
            .and_then(|part| std::str::from_utf8(part).ok())
            .unwrap_or("")
    }

    fn bucket_mut(&mut self, start_ns: u64) -> Option<&mut Bucket> {
        // Spans mostly arrive in time order: the newest bucket first.
        self.buckets
            .iter_mut()
            .rev()
            .find(|b| b.start_ns == start_ns)
    }
}

impl Bucket {
    /// A copy of the bucket as the merge reads it.
    fn data(&self, series_seed: u64, operation: &str, replica: &Arc<str>) -> BucketData {
        BucketData {
            operation: operation.to_string(),
            start_ns: self.start_ns,
            replica: Arc::clone(replica),
            incarnation: self.incarnation,
            series_seed,
            total: self.total,
            errors: self.errors,
            sampled_from: self.total,
            durations: self.reservoir.values().to_vec(),
        }
    }

    fn add(&mut self, facts: &SpanFacts<'_>, reservoir: usize) {
        self.reservoir.offer(facts.seconds, self.total, reservoir);
        self.total += 1;
        self.errors += u64::from(facts.error);
    }
}

impl Buckets {
    /// Counts `facts` in its bucket of series `key`, making the bucket (and the series) if
    /// need be; `None` when the store is full of buckets no older than the one needed.
    pub(crate) fn add(&mut self, key: &[u8], facts: &SpanFacts<'_>, limits: Limits) -> Option<()> {
        let cap = limits.reservoir;
        let start_ns = facts.end_ns - facts.end_ns % limits.window_ns;
        if let Some(&id) = self.index.get(key)
            && let Some(bucket) = self.series_mut(id).and_then(|s| s.bucket_mut(start_ns))
        {
            bucket.add(facts, cap);
            return Some(());
        }
        self.make_room(start_ns, limits.max_buckets)?;
        // Making room may have removed the series itself: look it up again.
        let id = match self.index.get(key) {
            Some(&id) => id,
            None => self.insert_series(key),
        };
        let incarnation = self.next_incarnation;
        self.next_incarnation += 1;
        let series = self.series_mut(id)?;
        let at = series.buckets.partition_point(|b| b.start_ns < start_ns);
        series.buckets.insert(
            at,
            Bucket {
                start_ns,
                total: 0,
                errors: 0,
                reservoir: Reservoir::new(mix(series.seed ^ start_ns)),
                incarnation,
                flushed_total: 0,
            },
        );
        series.buckets.get_mut(at)?.add(facts, cap);
        self.by_age.insert((start_ns, id));
        self.buckets += 1;
        Some(())
    }

    /// Evicts the oldest buckets until one more fits, as long as they are older than
    /// `start_ns`; `None` when the store is full of buckets at least as recent.
    fn make_room(&mut self, start_ns: u64, max_buckets: usize) -> Option<()> {
        while self.buckets >= max_buckets {
            let &(oldest, id) = self.by_age.first()?;
            if oldest >= start_ns {
                return None;
            }
            self.remove_bucket(oldest, id);
            self.evicted += 1;
        }
        Some(())
    }

    /// Drops buckets whose spans all ended before `oldest_ns`.
    pub(crate) fn expire(&mut self, oldest_ns: u64, window_ns: u64) {
        while let Some(&(start, id)) = self.by_age.first() {
            if start.saturating_add(window_ns) > oldest_ns {
                break;
            }
            self.remove_bucket(start, id);
        }
    }

    fn insert_series(&mut self, key: &[u8]) -> usize {
        let key: Arc<[u8]> = Arc::from(key);
        let series = Series {
            seed: fnv1a(&key),
            key: Arc::clone(&key),
            buckets: Vec::new(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.series.get_mut(id) {
                    *slot = Some(series);
                }
                id
            }
            None => {
                self.series.push(Some(series));
                self.series.len() - 1
            }
        };
        self.index.insert(key, id);
        id
    }

    fn remove_bucket(&mut self, start_ns: u64, id: usize) {
        self.by_age.remove(&(start_ns, id));
        self.buckets = self.buckets.saturating_sub(1);
        let Some(slot) = self.series.get_mut(id) else {
            return;
        };
        let Some(series) = slot else { return };
        series.buckets.retain(|b| b.start_ns != start_ns);
        if series.buckets.is_empty() {
            self.index.remove(&series.key);
            *slot = None;
            self.free.push(id);
        } else if series.buckets.capacity() > 4
            && series.buckets.len() * 4 <= series.buckets.capacity()
        {
            // Keeps the bound per bucket: a series that once had many buckets gives the room back.
            series.buckets.shrink_to(series.buckets.len() * 2);
        }
    }

    fn series_mut(&mut self, id: usize) -> Option<&mut Series> {
        self.series.get_mut(id).and_then(Option::as_mut)
    }

    /// Series held.
    pub(crate) fn series_count(&self) -> usize {
        self.index.len()
    }

    /// Buckets alive.
    pub(crate) fn bucket_count(&self) -> usize {
        self.buckets
    }

    /// Buckets evicted before their time, since the start.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Copies of the buckets of `service`/`version` (and `operation`, when given) starting in
    /// `[low_ns, high_ns)`, marked as `replica`'s: what [`super::merge::sample`] merges.
    pub(crate) fn views(
        &self,
        replica: &Arc<str>,
        service: &str,
        version: &str,
        operation: Option<&str>,
        (low_ns, high_ns): (u64, u64),
    ) -> Vec<BucketData> {
        self.series
            .iter()
            .flatten()
            .filter(|series| series.matches(service, version, operation))
            .flat_map(|series| {
                let operation = series.part(2);
                series
                    .buckets
                    .iter()
                    .filter(|b| (low_ns..high_ns).contains(&b.start_ns))
                    .map(move |b| b.data(series.seed, operation, replica))
            })
            .collect()
    }

    /// Up to `limit` buckets that ended by `closed_by_ns` (`u64::MAX`: every bucket, open ones
    /// too) and took spans since they were last written, oldest first.
    pub(crate) fn to_flush(
        &self,
        replica: &Arc<str>,
        window_ns: u64,
        closed_by_ns: u64,
        limit: usize,
    ) -> Vec<FlushItem> {
        let mut items = Vec::new();
        for &(start_ns, id) in &self.by_age {
            if items.len() >= limit || start_ns.saturating_add(window_ns) > closed_by_ns {
                break;
            }
            let Some(series) = self.series.get(id).and_then(Option::as_ref) else {
                continue;
            };
            let Some(bucket) = series.buckets.iter().find(|b| b.start_ns == start_ns) else {
                continue;
            };
            if bucket.total > bucket.flushed_total {
                items.push(FlushItem {
                    service: series.part(0).to_string(),
                    version: series.part(1).to_string(),
                    bucket: bucket.data(series.seed, series.part(2), replica),
                });
            }
        }
        items
    }

    /// Notes that `items` are written as they were when taken: a bucket that took more spans
    /// since stays due.
    pub(crate) fn mark_flushed(&mut self, items: &[FlushItem]) {
        let mut key = Vec::with_capacity(128);
        for item in items {
            let b = &item.bucket;
            pack_names(&mut key, &item.service, &item.version, &b.operation);
            let Some(&id) = self.index.get(key.as_slice()) else {
                continue;
            };
            if let Some(bucket) = self.series_mut(id).and_then(|s| {
                s.buckets
                    .iter_mut()
                    .find(|x| x.start_ns == b.start_ns && x.incarnation == b.incarnation)
            }) {
                bucket.flushed_total = bucket.flushed_total.max(b.total);
            }
        }
    }

    /// Bytes held, counted from lengths and capacities.
    pub(crate) fn approx_bytes(&self) -> usize {
        let index_entry = size_of::<(Arc<[u8]>, usize)>() + 1;
        let index_slots = if self.index.capacity() == 0 {
            0
        } else {
            self.index.capacity() * 8 / 7 + 1
        };
        let held: usize = self
            .series
            .iter()
            .flatten()
            .map(|series| {
                arc_bytes(series.key.len())
                    + series.buckets.capacity() * size_of::<Bucket>()
                    + series
                        .buckets
                        .iter()
                        .map(|b| b.reservoir.heap_bytes())
                        .sum::<usize>()
            })
            .sum();
        size_of::<SpanStore>()
            + self.series.capacity() * size_of::<Option<Series>>()
            + self.free.capacity() * size_of::<usize>()
            + index_slots * index_entry
            + self.by_age.len() * AGE_ENTRY_BYTES
            + held
    }
}
