/* SPDX-License-Identifier: MIT */
/* shmq/hist.h - HDR latency histograms (HdrHistogram-compatible); included by shmq.h. */
#ifndef SHMQ_HIST_H
#define SHMQ_HIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shmq/bus.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An HDR histogram counts values in buckets whose width grows with the value, so that
 * every value is kept to a fixed number of significant decimal digits over a huge range
 * (HdrHistogram's algorithm, with its bucket layout, percentile rule and encodings, so that
 * the HdrHistogram tools read what this module writes).
 *
 * Values are int64_t in any unit (nanoseconds for shmq's latencies). Values from 0 up to the
 * top of the highest bucket are recorded; values below @lowest share the first bucket.
 * A value above the covered range, or a negative one, is rejected with -ERANGE and counted
 * in shmq_hist_out_of_range(), never clamped.
 *
 * A shmq_hist is not thread-safe: one thread records into it at a time. For recording while
 * other threads or processes read, see shmq_hist_shm and shmq_hist_recorder below.
 */
typedef struct shmq_hist shmq_hist;

/* Largest highest-trackable value accepted. */
#define SHMQ_HIST_HIGHEST_MAX (INT64_C(1) << 62)
/* Significant decimal digits accepted (HdrHistogram's range; 1-5 are the useful ones). */
#define SHMQ_HIST_SIGFIGS_MIN 0
#define SHMQ_HIST_SIGFIGS_MAX 5

/**
 * shmq_hist_new() - create an empty histogram.
 * @lowest:   lowest discernible value, >= 1 (the resolution at the bottom of the range)
 * @highest:  highest trackable value, >= 2 * @lowest and <= SHMQ_HIST_HIGHEST_MAX
 * @sigfigs:  significant decimal digits kept for every value, 0-5
 * @ret_hist: on success a histogram owned by the caller, released with shmq_hist_free();
 *            untouched on failure
 *
 * Memory is about 8 bytes * 2^ceil(log2(2 * 10^sigfigs)) / 2 per power of two of the range
 * (3 digits over 1 ns..1 h: about 0.3 MiB).
 *
 * Return: 0, or -EINVAL (bad range or digits), -ENOMEM.
 */
SHMQ_API int shmq_hist_new(int64_t lowest, int64_t highest, int sigfigs, shmq_hist **ret_hist);

/**
 * shmq_hist_free() - release a histogram from any shmq_hist_* constructor; NULL is ignored.
 */
SHMQ_API void shmq_hist_free(shmq_hist *h);

/**
 * shmq_hist_copy() - a new histogram with the same configuration and contents.
 * @h:        the source
 * @ret_hist: on success the copy, released with shmq_hist_free(); untouched on failure
 *
 * Return: 0, or -EINVAL, -ENOMEM.
 */
SHMQ_API int shmq_hist_copy(const shmq_hist *h, shmq_hist **ret_hist);

/**
 * shmq_hist_record() - count one occurrence of @value.
 *
 * The fast path: a few nanoseconds, no allocation, no syscall.
 *
 * Return: 0, or -ERANGE (negative or above the covered range: counted in
 * shmq_hist_out_of_range() and nowhere else).
 */
SHMQ_API int shmq_hist_record(shmq_hist *h, int64_t value);

/**
 * shmq_hist_record_n() - count @count occurrences of @value.
 *
 * Return: 0, or -ERANGE (as shmq_hist_record(); @count is added to the out-of-range count),
 * -EOVERFLOW (the total count would pass UINT64_MAX; nothing recorded).
 */
SHMQ_API int shmq_hist_record_n(shmq_hist *h, int64_t value, uint64_t count);

/**
 * shmq_hist_record_corrected() - record @value, correcting for coordinated omission.
 * @h:        the histogram
 * @value:    the measured value
 * @interval: the expected interval between two measurements; when @value exceeds it, the
 *            measurements a stalled sender missed are added as well: @value - @interval,
 *            @value - 2 * @interval, ... down to @interval (HdrHistogram's
 *            recordValueWithExpectedInterval). 0 or less records @value alone.
 *
 * Return: 0, or -ERANGE (@value itself is out of range: counted, nothing else recorded).
 */
SHMQ_API int shmq_hist_record_corrected(shmq_hist *h, int64_t value, int64_t interval);

/**
 * shmq_hist_reset() - forget every recorded value, keeping the configuration.
 */
SHMQ_API void shmq_hist_reset(shmq_hist *h);

/**
 * shmq_hist_add() - merge the counts of @src into @dst; their ranges and digits may differ.
 * @dst: the histogram that receives
 * @src: the histogram that gives, unchanged
 *
 * Each of @src's buckets is recorded at its lowest value (its own value when both share a
 * layout). Counts that do not fit @dst's range are added to @dst's out-of-range count, as is
 * @src's own out-of-range count; everything that fits is merged either way.
 *
 * Return: 0 (all fitted), -ERANGE (some counts did not fit, see above), -EINVAL,
 * -EOVERFLOW (@dst's total would pass UINT64_MAX; @dst unchanged).
 */
SHMQ_API int shmq_hist_add(shmq_hist *dst, const shmq_hist *src);

/* Configuration, as given to shmq_hist_new() (or decoded). */
SHMQ_API int64_t shmq_hist_lowest(const shmq_hist *h);
SHMQ_API int64_t shmq_hist_highest(const shmq_hist *h);
SHMQ_API int shmq_hist_sigfigs(const shmq_hist *h);

/* Number of values recorded (out-of-range ones excluded). */
SHMQ_API uint64_t shmq_hist_total(const shmq_hist *h);
/* Number of values rejected as out of range since creation or the last reset. */
SHMQ_API uint64_t shmq_hist_out_of_range(const shmq_hist *h);

/* Smallest recorded value, as the lowest value of its bucket; 0 when empty. */
SHMQ_API int64_t shmq_hist_min(const shmq_hist *h);
/* Largest recorded value, as the highest value of its bucket; 0 when empty. */
SHMQ_API int64_t shmq_hist_max(const shmq_hist *h);
/* Mean of the recorded values, each taken at the middle of its bucket; 0 when empty. */
SHMQ_API double shmq_hist_mean(const shmq_hist *h);
/* Population standard deviation, on the same bucket midpoints; 0 when empty. */
SHMQ_API double shmq_hist_stddev(const shmq_hist *h);

/**
 * shmq_hist_value_at_percentile() - the value below or at which @p percent of values lie.
 * @h: the histogram
 * @p: percentile, 0-100 (clamped)
 *
 * Uses HdrHistogram Java's rule: the target count is ceil(nextDown(@p) * total / 100), at
 * least 1, and the answer is the highest value of the bucket where the running count reaches
 * it (the lowest value for @p == 0).
 *
 * Return: the value, or 0 when the histogram is empty.
 */
SHMQ_API int64_t shmq_hist_value_at_percentile(const shmq_hist *h, double p);

/**
 * shmq_hist_count_between() - number of recorded values in the buckets from that of @lo to
 * that of @hi, both included. Values beyond the covered range are taken as its ends.
 */
SHMQ_API uint64_t shmq_hist_count_between(const shmq_hist *h, int64_t lo, int64_t hi);

/* Count of the bucket holding @value (0 when out of range). */
SHMQ_API uint64_t shmq_hist_count_at(const shmq_hist *h, int64_t value);

/* The lowest and highest values counted in the same bucket as @value (in range, >= 0). */
SHMQ_API int64_t shmq_hist_lowest_equivalent(const shmq_hist *h, int64_t value);
SHMQ_API int64_t shmq_hist_highest_equivalent(const shmq_hist *h, int64_t value);

/*
 * Iteration over a histogram's buckets, HdrHistogram's four kinds. The histogram must not
 * change while an iterator walks it.
 */
typedef struct shmq_hist_iter shmq_hist_iter;

/**
 * struct shmq_hist_iter_step - one step of an iteration.
 * @value:           the value iterated to (highest of its bucket, or the reporting level)
 * @value_from:      the value of the previous step (0 at the first)
 * @count_at_value:  count of the bucket the step stopped in
 * @count_added:     values counted since the previous step
 * @total_count:     values counted up to and including this step
 * @percentile:      100 * @total_count / total
 * @percentile_level: the percentile iterator's reporting level (the others: @percentile)
 */
struct shmq_hist_iter_step {
	int64_t value;
	int64_t value_from;
	uint64_t count_at_value;
	uint64_t count_added;
	uint64_t total_count;
	double percentile;
	double percentile_level;
};

/**
 * shmq_hist_iter_percentile() - iterate by percentile levels.
 * @h:              the histogram
 * @ticks_per_half: reporting steps per halving of the distance to 100% (>= 1; 5 is classic)
 * @ret_iter:       on success an iterator, released with shmq_hist_iter_free()
 *
 * The last step is at 100%. Return: 0, or -EINVAL, -ENOMEM.
 */
SHMQ_API int shmq_hist_iter_percentile(const shmq_hist *h, unsigned ticks_per_half,
				       shmq_hist_iter **ret_iter);

/**
 * shmq_hist_iter_linear() - iterate in steps of @step value units, up to the largest
 * recorded value; released with shmq_hist_iter_free().
 *
 * Return: 0, or -EINVAL (@step < 1), -ENOMEM.
 */
SHMQ_API int shmq_hist_iter_linear(const shmq_hist *h, int64_t step, shmq_hist_iter **ret_iter);

/**
 * shmq_hist_iter_log() - iterate in steps that grow by @base: the first step ends at @first,
 * the next at @first * @base, and so on past the largest recorded value; released with
 * shmq_hist_iter_free().
 *
 * Return: 0, or -EINVAL (@first < 1 or @base <= 1), -ENOMEM.
 */
SHMQ_API int shmq_hist_iter_log(const shmq_hist *h, int64_t first, double base,
				shmq_hist_iter **ret_iter);

/**
 * shmq_hist_iter_recorded() - iterate over each non-empty bucket in value order; released
 * with shmq_hist_iter_free().
 *
 * Return: 0, or -EINVAL, -ENOMEM.
 */
SHMQ_API int shmq_hist_iter_recorded(const shmq_hist *h, shmq_hist_iter **ret_iter);

/**
 * shmq_hist_iter_next() - advance an iterator.
 * @it:       the iterator
 * @ret_step: on 1, the step
 *
 * Return: 1 (a step was written), 0 (done), -EINVAL.
 */
SHMQ_API int shmq_hist_iter_next(shmq_hist_iter *it, struct shmq_hist_iter_step *ret_step);

/* Release an iterator from shmq_hist_iter_*(); NULL is ignored. */
SHMQ_API void shmq_hist_iter_free(shmq_hist_iter *it);

/* Flags of shmq_hist_print_percentiles(). */
#define SHMQ_HIST_PRINT_CSV 0x1u /* HdrHistogram's CSV form instead of the text table */

/**
 * shmq_hist_print_percentiles() - write the classic percentile distribution table.
 * @h:              the histogram
 * @f:              where to write
 * @ticks_per_half: percentile steps per halving of the distance to 100% (5 is classic)
 * @unit_ratio:     values are divided by this before printing (e.g. 1000.0: ns to us); > 0
 * @flags:          SHMQ_HIST_PRINT_* bits
 *
 * The layout is HdrHistogram's outputPercentileDistribution (Value, Percentile,
 * TotalCount, 1/(1-Percentile), then the #[Mean ...] footer), which its plotters read.
 *
 * Return: 0, or -EINVAL, -EIO (a write failed), -ENOMEM.
 */
SHMQ_API int shmq_hist_print_percentiles(const shmq_hist *h, FILE *f, unsigned ticks_per_half,
					 double unit_ratio, unsigned flags);

/*
 * HdrHistogram's V2 encoding: a big-endian header and the counts as ZigZag LEB128 with runs
 * of zeros, optionally zlib-compressed; its base64 is what .hlog files carry ("HISTF...").
 */
#define SHMQ_HIST_ENC_COMPRESSED 0x1u /* compressed V2 (cookie 0x1c849314) */

/* Decoders refuse histograms whose counts would take more than this many entries. */
#define SHMQ_HIST_DECODE_MAX_COUNTS (1u << 23)

/**
 * shmq_hist_encode() - encode a histogram in V2 form.
 * @h:       the histogram
 * @flags:   SHMQ_HIST_ENC_* bits
 * @ret_buf: on success a malloc()ed buffer owned by the caller, released with free()
 * @ret_len: on success its length in bytes
 *
 * Return: 0, or -EINVAL, -ENOMEM, -EOVERFLOW (a count above INT64_MAX, which V2 cannot
 * carry).
 */
SHMQ_API int shmq_hist_encode(const shmq_hist *h, unsigned flags, void **ret_buf, size_t *ret_len);

/**
 * shmq_hist_decode() - decode a V2 histogram, compressed or not (told apart by its cookie).
 * @buf:      the encoded bytes (untrusted)
 * @len:      their number
 * @flags:    0 (no flags yet)
 * @ret_hist: on success a new histogram, released with shmq_hist_free(); untouched on failure
 *
 * Hostile input is safe: every length is checked against the buffer, decompression stops at
 * the declared payload size (at most 9 bytes per counts entry), and the declared range may
 * need at most SHMQ_HIST_DECODE_MAX_COUNTS entries.
 *
 * Return: 0, or -EINVAL, -EPROTO (bad cookie, truncated, inconsistent lengths or counts, a
 * configuration HdrHistogram would refuse), -EMSGSIZE (a payload past the limits),
 * -ENOMEM.
 */
SHMQ_API int shmq_hist_decode(const void *buf, size_t len, unsigned flags, shmq_hist **ret_hist);

/**
 * shmq_hist_encode_base64() - compressed V2 in base64, the form .hlog lines carry.
 * @h:       the histogram
 * @ret_str: on success a malloc()ed NUL-terminated string, released with free()
 *
 * Return: 0, or the errors of shmq_hist_encode().
 */
SHMQ_API int shmq_hist_encode_base64(const shmq_hist *h, char **ret_str);

/**
 * shmq_hist_decode_base64() - decode base64 (padding optional) of a V2 histogram.
 * @str:      the text (untrusted)
 * @len:      its length in characters
 * @ret_hist: on success a new histogram, released with shmq_hist_free()
 *
 * Return: 0, or -EPROTO (not base64), and the errors of shmq_hist_decode().
 */
SHMQ_API int shmq_hist_decode_base64(const char *str, size_t len, shmq_hist **ret_hist);

/*
 * HdrHistogram's interval log (.hlog, format version 1.3): a header of #-comments, then one
 * line per interval: [Tag=NAME,]start,interval_length,max,base64. Start and length are
 * seconds (start counted from BaseTime), max is the interval's max divided by 1e6 (ns to ms,
 * as HdrHistogram's writers do).
 */

/* Longest tag, in characters (no ',', whitespace or control characters). */
#define SHMQ_HIST_TAG_MAX 127

/**
 * shmq_hist_log_write_header() - write the header of an .hlog file.
 * @f:            where to write
 * @comment:      a comment line to put first (no newline), or NULL
 * @start_time_s: the log's start, seconds since the epoch (StartTime)
 * @base_time_s:  the time interval starts are counted from, seconds since the epoch
 *                (BaseTime; usually @start_time_s)
 *
 * Return: 0, or -EINVAL, -EIO.
 */
SHMQ_API int shmq_hist_log_write_header(FILE *f, const char *comment, double start_time_s,
					double base_time_s);

/**
 * shmq_hist_log_write() - write one interval line.
 * @f:          where to write
 * @tag:        the interval's tag, or NULL for none
 * @start_s:    the interval's start, seconds after BaseTime
 * @interval_s: the interval's length in seconds
 * @h:          the interval's histogram
 *
 * Return: 0, or -EINVAL (bad tag), -EIO, and the errors of shmq_hist_encode().
 */
SHMQ_API int shmq_hist_log_write(FILE *f, const char *tag, double start_s, double interval_s,
				 const shmq_hist *h);

/* A reader of .hlog text. */
typedef struct shmq_hist_log_reader shmq_hist_log_reader;

/**
 * struct shmq_hist_log_entry - one interval read from an .hlog.
 * @tag:        the tag, "" when the line has none
 * @start_s:    start as written (seconds after BaseTime)
 * @interval_s: length in seconds
 * @max:        the max column as written (usually ms)
 * @hist:       the interval's histogram, owned by the caller: shmq_hist_free()
 */
struct shmq_hist_log_entry {
	char tag[SHMQ_HIST_TAG_MAX + 1];
	double start_s;
	double interval_s;
	double max;
	shmq_hist *hist;
};

/* Longest line a reader accepts, in bytes. */
#define SHMQ_HIST_LOG_LINE_MAX (64u << 20)

/**
 * shmq_hist_log_reader_new() - start reading an .hlog from @f (which stays the caller's).
 * @f:          the file, read from its current position
 * @ret_reader: on success a reader, released with shmq_hist_log_reader_free()
 *
 * Return: 0, or -EINVAL, -ENOMEM.
 */
SHMQ_API int shmq_hist_log_reader_new(FILE *f, shmq_hist_log_reader **ret_reader);

/* Release a reader; NULL is ignored. The FILE is not closed. */
SHMQ_API void shmq_hist_log_reader_free(shmq_hist_log_reader *r);

/**
 * shmq_hist_log_read() - read the next interval, taking in the header lines before it.
 * @r:         the reader
 * @ret_entry: on 1, the interval (its hist is the caller's)
 *
 * Return: 1 (an interval), 0 (end of file), -EPROTO (a malformed line or histogram),
 * -EMSGSIZE (a line past SHMQ_HIST_LOG_LINE_MAX), -EIO, -ENOMEM.
 */
SHMQ_API int shmq_hist_log_read(shmq_hist_log_reader *r, struct shmq_hist_log_entry *ret_entry);

/* StartTime and BaseTime seen so far (seconds since the epoch), 0 when absent. */
SHMQ_API double shmq_hist_log_start_time(const shmq_hist_log_reader *r);
SHMQ_API double shmq_hist_log_base_time(const shmq_hist_log_reader *r);

/*
 * A histogram that lives in memory the caller provides (a shared-memory segment): one owner
 * thread records with plain atomic stores (no locked instruction), while any number of other
 * processes take snapshots. A snapshot holds only values really recorded, holds every value
 * whose recording finished before the snapshot began, and its total equals the sum of its
 * counts. Nothing read from the memory is trusted.
 */
typedef struct shmq_hist_shm shmq_hist_shm;

/**
 * shmq_hist_shm_size() - bytes a shared histogram of this configuration needs.
 * @lowest, @highest, @sigfigs: as for shmq_hist_new()
 * @ret_size: on success the size in bytes (a multiple of 128)
 *
 * Return: 0, or -EINVAL.
 */
SHMQ_API int shmq_hist_shm_size(int64_t lowest, int64_t highest, int sigfigs, size_t *ret_size);

/**
 * shmq_hist_shm_init() - lay out an empty shared histogram in @mem and become its recorder.
 * @mem:     at least shmq_hist_shm_size() bytes, 64-byte aligned, writable
 * @size:    bytes available at @mem
 * @lowest, @highest, @sigfigs: as for shmq_hist_new()
 * @flags:   0 (no flags yet)
 * @ret_shm: on success a recording handle, released with shmq_hist_shm_close()
 *
 * The header is published last, so an attacher never sees a half-made histogram.
 *
 * Return: 0, or -EINVAL (bad configuration, alignment, flags), -EMSGSIZE (@size too small),
 * -ENOMEM.
 */
SHMQ_API int shmq_hist_shm_init(void *mem, size_t size, int64_t lowest, int64_t highest,
				int sigfigs, unsigned flags, shmq_hist_shm **ret_shm);

/**
 * shmq_hist_shm_attach() - open an existing shared histogram for reading.
 * @mem:     where it lives (never written through this handle)
 * @size:    bytes mapped at @mem
 * @flags:   0 (no flags yet)
 * @ret_shm: on success a reading handle, released with shmq_hist_shm_close()
 *
 * Return: 0, or -EINVAL, -EPROTO (not a histogram, another layout version, not yet
 * published, or a header inconsistent with itself or with @size), -ENOMEM.
 * shmq_last_detail() says which of the first three it is, with both versions for another
 * layout version.
 */
SHMQ_API int shmq_hist_shm_attach(const void *mem, size_t size, unsigned flags,
				  shmq_hist_shm **ret_shm);

/* Release a handle; the memory is left as it is. NULL is ignored. */
SHMQ_API void shmq_hist_shm_close(shmq_hist_shm *s);

/**
 * shmq_hist_shm_record() - count one @value (recording handle only; one thread at a time).
 *
 * Return: 0, or -ERANGE (counted as out of range), -EBADF (a reading handle).
 */
SHMQ_API int shmq_hist_shm_record(shmq_hist_shm *s, int64_t value);

/* As shmq_hist_record_n() on a recording handle; -EBADF on a reading one. */
SHMQ_API int shmq_hist_shm_record_n(shmq_hist_shm *s, int64_t value, uint64_t count);

/**
 * shmq_hist_shm_reset() - zero the counts (recording handle). Concurrent snapshots retry.
 *
 * Return: 0, or -EBADF.
 */
SHMQ_API int shmq_hist_shm_reset(shmq_hist_shm *s);

/**
 * shmq_hist_shm_snapshot() - copy the shared histogram into a new private one.
 * @s:        a recording or reading handle
 * @ret_hist: on success the copy, released with shmq_hist_free()
 *
 * Safe while the owner records. Its out-of-range count is the shared one.
 *
 * Return: 0, or -EAGAIN (the owner kept resetting), -EPROTO (the shared counts are
 * inconsistent: corrupt memory), -ENOMEM.
 */
SHMQ_API int shmq_hist_shm_snapshot(const shmq_hist_shm *s, shmq_hist **ret_hist);

/* Total count as last published by the recorder (a cheap live figure). */
SHMQ_API uint64_t shmq_hist_shm_total(const shmq_hist_shm *s);

/*
 * Interval recorder: one thread records into the active histogram while another takes
 * interval histograms (shmq_hist_recorder_interval() swaps active and inactive and waits
 * for an in-flight record to finish, HdrHistogram's Recorder with its writer/reader phaser).
 * Recording costs two uncontended atomic increments more than shmq_hist_record().
 */
typedef struct shmq_hist_recorder shmq_hist_recorder;

/**
 * shmq_hist_recorder_new() - create an interval recorder.
 * @lowest, @highest, @sigfigs: as for shmq_hist_new()
 * @ret_rec: on success the recorder, released with shmq_hist_recorder_free()
 *
 * Return: 0, or -EINVAL, -ENOMEM.
 */
SHMQ_API int shmq_hist_recorder_new(int64_t lowest, int64_t highest, int sigfigs,
				    shmq_hist_recorder **ret_rec);

/* Release a recorder (no thread may still use it); NULL is ignored. */
SHMQ_API void shmq_hist_recorder_free(shmq_hist_recorder *rec);

/**
 * shmq_hist_recorder_record() - record @value in the active interval (one thread at a time).
 *
 * Return: 0, or -ERANGE (counted in the interval's out-of-range count).
 */
SHMQ_API int shmq_hist_recorder_record(shmq_hist_recorder *rec, int64_t value);

/**
 * shmq_hist_recorder_interval() - take what was recorded since the previous call.
 * @rec: the recorder
 * @dst: a histogram that is reset, then receives the interval (any configuration: the
 *       interval is merged in with shmq_hist_add())
 *
 * Callers of this function are serialised by the recorder; it may run concurrently with
 * shmq_hist_recorder_record().
 *
 * Return: 0, -ERANGE (some counts did not fit @dst), -EINVAL.
 */
SHMQ_API int shmq_hist_recorder_interval(shmq_hist_recorder *rec, shmq_hist *dst);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_HIST_H */
