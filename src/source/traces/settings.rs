//! The span store's settings and the memory bound they imply.

use std::time::Duration;

use super::buckets;

/// The memory the default settings size the store for: the whole store, at its fullest and
/// with the longest names allowed, allocator overhead included, stays under this many bytes.
pub const DEFAULT_MEMORY_BUDGET: usize = 64 << 20;

/// The share of a memory budget left for the allocator: the process grows by more than the
/// bytes the store counts (freed pages not yet returned, size classes). Streaming 10 million
/// spans (docs/benchmarks.md), mimalloc, which `slogate` uses, took about 10 MiB over 47 MiB
/// counted (half of it its delayed purge), glibc 3 MiB over 56 MiB: a sixth of 64 MiB covers it.
const ALLOCATOR_HEADROOM_DIVISOR: usize = 6;

/// How far in the future a span may end: senders' clocks drift, and a span stamped a little
/// ahead is still data; one an hour ahead is a broken clock and would sit in a bucket no gate
/// asks about.
pub const MAX_FUTURE: Duration = Duration::from_secs(5 * 60);

/// How spans are kept: bucket width, how long, how many durations, how many buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanSettings {
    /// Width of a time bucket (default 60 s): the granularity of a sample's time range, and the
    /// unit of memory (one reservoir per bucket and series). At least one second.
    pub window: Duration,
    /// How long buckets are kept (default 2 h): longer than any canary lookback, so a gate can
    /// look back while the rollout pauses. At least one window.
    pub retention: Duration,
    /// Durations kept per bucket and series (default 1024), a uniform sample of that bucket's
    /// spans; counts stay exact whatever the number of spans. At least one.
    pub reservoir: usize,
    /// Buckets alive at once across all series: the memory bound. When a new bucket would
    /// exceed it the oldest buckets make room (recent data is what gates ask for); when every
    /// bucket is as recent as the new one, spans of new series are refused. The default fits
    /// [`DEFAULT_MEMORY_BUDGET`]; see [`SpanSettings::memory_bound`]. At least one.
    pub max_buckets: usize,
}

/// When this replica writes its closed buckets to the store ([`super::SharedSpans`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushSettings {
    /// How often the buckets due are written (default 5 s): with the grace, how long after a
    /// bucket's end other replicas see it, and what `kill -9` can lose beyond the open bucket.
    pub interval: Duration,
    /// How long after its end a bucket waits for late spans before it is first written
    /// (default 10 s): exporters batch spans for about 5 s (the OpenTelemetry SDK's default
    /// schedule delay), so most spans of a bucket are in by then. Spans later still are not
    /// lost: the bucket is written again, whole, at the next flush.
    pub grace: Duration,
}

impl Default for FlushSettings {
    fn default() -> Self {
        FlushSettings {
            interval: Duration::from_secs(5),
            grace: Duration::from_secs(10),
        }
    }
}

impl Default for SpanSettings {
    fn default() -> Self {
        let reservoir = 1024;
        SpanSettings {
            window: Duration::from_secs(60),
            retention: Duration::from_secs(2 * 60 * 60),
            reservoir,
            max_buckets: SpanSettings::max_buckets_for(DEFAULT_MEMORY_BUDGET, reservoir),
        }
    }
}

impl SpanSettings {
    /// The most buckets of `reservoir` durations that fit in `budget` bytes of process memory
    /// at worst (every reservoir full, every series with one bucket and names of the longest
    /// length allowed): their counted bytes ([`memory_bound`]) fit in five sixths of it, and
    /// the last sixth is the allocator's.
    ///
    /// [`memory_bound`]: SpanSettings::memory_bound
    pub fn max_buckets_for(budget: usize, reservoir: usize) -> usize {
        let counted = budget - budget / ALLOCATOR_HEADROOM_DIVISOR;
        let per_bucket = buckets::worst_bytes_per_bucket(reservoir.max(1));
        (counted.saturating_sub(buckets::FIXED_BYTES) / per_bucket).max(1)
    }

    /// The most bytes [`SpanStore::approx_bytes`] can report with these settings: `max_buckets`
    /// buckets at their worst. The store never counts more; the process holds more by the
    /// allocator's overhead.
    ///
    /// [`SpanStore::approx_bytes`]: super::SpanStore::approx_bytes
    pub fn memory_bound(&self) -> usize {
        let settings = self.normalized();
        buckets::FIXED_BYTES.saturating_add(
            settings
                .max_buckets
                .saturating_mul(buckets::worst_bytes_per_bucket(settings.reservoir)),
        )
    }

    /// The settings in force: each value raised to its minimum (documented on the field), so
    /// that no setting can make the store divide by zero or hold nothing.
    pub fn normalized(&self) -> SpanSettings {
        let window = self.window.max(Duration::from_secs(1));
        SpanSettings {
            window,
            retention: self.retention.max(window),
            reservoir: self.reservoir.max(1),
            max_buckets: self.max_buckets.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_fit_the_budget_and_hold_thousands_of_buckets() {
        let settings = SpanSettings::default();
        assert!(settings.memory_bound() <= DEFAULT_MEMORY_BUDGET / 6 * 5);
        assert!(settings.max_buckets > 5_000, "{}", settings.max_buckets);
        assert_eq!(settings.window, Duration::from_secs(60));
        assert_eq!(settings.retention, Duration::from_secs(7200));
    }

    #[test]
    fn zeros_are_raised_to_their_minimum() {
        let settings = SpanSettings {
            window: Duration::ZERO,
            retention: Duration::ZERO,
            reservoir: 0,
            max_buckets: 0,
        }
        .normalized();
        assert_eq!(settings.window, Duration::from_secs(1));
        assert_eq!(settings.retention, Duration::from_secs(1));
        assert_eq!((settings.reservoir, settings.max_buckets), (1, 1));
    }
}
