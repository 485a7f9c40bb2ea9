//! The span store's insides, under its lock: series and their time buckets, the age index
//! that expires and evicts oldest first, and the count of bytes held.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::reservoir::{Reservoir, fnv1a, mix};
use super::span::{MAX_NAME_BYTES, SpanFacts};
use super::windows::{SpanSample, SpanStore};

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
    key.clear();
    key.extend_from_slice(facts.service.as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(facts.version.as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(facts.operation.as_bytes());
}

impl Series {
    /// Whether the series is `service`/`version` (and `operation`, when given).
    fn matches(&self, service: &str, version: &str, operation: Option<&str>) -> bool {
        let mut parts = self.key.splitn(3, |byte| *byte == SEPARATOR);
        parts.next() == Some(service.as_bytes())
            && parts.next() == Some(version.as_bytes())
            && operation.is_none_or(|operation| parts.next() == Some(operation.as_bytes()))
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
        let series = self.series_mut(id)?;
        let at = series.buckets.partition_point(|b| b.start_ns < start_ns);
        series.buckets.insert(
            at,
            Bucket {
                start_ns,
                total: 0,
                errors: 0,
                reservoir: Reservoir::new(mix(series.seed ^ start_ns)),
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

    /// The sample of [`SpanStore::sample`] for buckets starting in `[low_ns, high_ns)`.
    pub(crate) fn sample(
        &self,
        service: &str,
        version: &str,
        operation: Option<&str>,
        (low_ns, high_ns): (u64, u64),
    ) -> SpanSample {
        let mut chosen: Vec<(&Series, &Bucket)> = self
            .series
            .iter()
            .flatten()
            .filter(|series| series.matches(service, version, operation))
            .flat_map(|series| series.buckets.iter().map(move |bucket| (series, bucket)))
            .filter(|(_, bucket)| (low_ns..high_ns).contains(&bucket.start_ns))
            .collect();
        // A fixed order (time, then key), so the answer does not depend on slot reuse.
        chosen.sort_by(|a, b| (a.1.start_ns, &a.0.key).cmp(&(b.1.start_ns, &b.0.key)));
        let share = chosen
            .iter()
            .filter(|(_, bucket)| bucket.total > 0)
            .map(|(_, bucket)| bucket.reservoir.values().len() as f64 / bucket.total as f64)
            .fold(1.0f64, f64::min);
        let mut sample = SpanSample {
            sampled: share < 1.0,
            ..SpanSample::default()
        };
        for (series, bucket) in chosen {
            sample.total += bucket.total;
            sample.errors += bucket.errors;
            let kept = bucket.reservoir.values().len();
            let take = if sample.sampled {
                ((share * bucket.total as f64).round() as usize).min(kept)
            } else {
                kept
            };
            // Not the reservoir's own seed: the subsample must not replay its draws.
            let seed = mix(series.seed ^ bucket.start_ns ^ 0x5A5A_5A5A_5A5A_5A5A);
            bucket
                .reservoir
                .subsample_into(take, seed, &mut sample.durations);
        }
        sample
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
