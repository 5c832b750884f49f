// SPDX-License-Identifier: MIT
/* hist_log.c - HdrHistogram interval logs (.hlog, format 1.3): writing and reading. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hist_internal.h"

#define LOG_FORMAT_VERSION "1.3"
#define LOG_LEGEND                                                 \
	"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\"," \
	"\"Interval_Compressed_Histogram\"\n"
/* HdrHistogram's writers divide the max column by this (nanoseconds to milliseconds) */
#define LOG_MAX_RATIO 1e6

struct shmq_hist_log_reader {
	FILE *f;
	char *line;
	size_t cap;
	double start_time;
	double base_time;
};

static bool valid_tag(const char *tag)
{
	size_t n = strlen(tag);

	if (n == 0 || n > SHMQ_HIST_TAG_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tag[i];

		if (c == ',' || isspace(c) || iscntrl(c))
			return false;
	}
	return true;
}

SHMQ_API int shmq_hist_log_write_header(FILE *f, const char *comment, double start_time_s,
					double base_time_s)
{
	time_t t = (time_t)start_time_s;
	char date[64] = "";
	struct tm tm;

	if (!f || !isfinite(start_time_s) || !isfinite(base_time_s))
		return -EINVAL;
	if (comment && strpbrk(comment, "\r\n"))
		return -EINVAL;
	/* Java's Date.toString() form, in UTC */
	if (gmtime_r(&t, &tm))
		strftime(date, sizeof(date), "%a %b %d %H:%M:%S UTC %Y", &tm);
	if (comment && fprintf(f, "#%s\n", comment) < 0)
		return -EIO;
	if (fprintf(f, "#[Histogram log format version " LOG_FORMAT_VERSION "]\n") < 0 ||
	    fprintf(f, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_time_s, date) < 0 ||
	    fprintf(f, "#[BaseTime: %.3f (seconds since epoch)]\n", base_time_s) < 0 ||
	    fputs(LOG_LEGEND, f) < 0)
		return -EIO;
	return 0;
}

SHMQ_API int shmq_hist_log_write(FILE *f, const char *tag, double start_s, double interval_s,
				 const shmq_hist *h)
{
	char *b64;
	int r;

	if (!f || !h || (tag && !valid_tag(tag)) || !isfinite(start_s) || !isfinite(interval_s))
		return -EINVAL;
	r = shmq_hist_encode_base64(h, &b64);
	if (r < 0)
		return r;
	/* column 2 is the interval's length (HdrHistogram_c writes its end there; Java does not) */
	r = fprintf(f, "%s%s%s%.3f,%.3f,%.3f,%s\n", tag ? "Tag=" : "", tag ? tag : "",
		    tag ? "," : "", start_s, interval_s, (double)shmq_hist_max(h) / LOG_MAX_RATIO,
		    b64);
	free(b64);
	return r < 0 ? -EIO : 0;
}

SHMQ_API int shmq_hist_log_reader_new(FILE *f, shmq_hist_log_reader **ret_reader)
{
	shmq_hist_log_reader *r;

	if (!f || !ret_reader)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->f = f;
	*ret_reader = r;
	return 0;
}

SHMQ_API void shmq_hist_log_reader_free(shmq_hist_log_reader *r)
{
	if (!r)
		return;
	free(r->line);
	free(r);
}

SHMQ_API double shmq_hist_log_start_time(const shmq_hist_log_reader *r)
{
	return r ? r->start_time : 0.0;
}

SHMQ_API double shmq_hist_log_base_time(const shmq_hist_log_reader *r)
{
	return r ? r->base_time : 0.0;
}

static int grow_line(shmq_hist_log_reader *r)
{
	size_t cap = r->cap ? r->cap * 2 : 4096;
	char *p;

	if (r->cap >= SHMQ_HIST_LOG_LINE_MAX + 2)
		return -EMSGSIZE;
	if (cap > SHMQ_HIST_LOG_LINE_MAX + 2)
		cap = SHMQ_HIST_LOG_LINE_MAX + 2;
	p = realloc(r->line, cap);
	if (!p)
		return -ENOMEM;
	r->line = p;
	r->cap = cap;
	return 0;
}

/* Reads one line without its end; 1 when read, 0 at end of file, -errno. */
static int read_line(shmq_hist_log_reader *r, size_t *ret_len)
{
	size_t len = 0;
	int err;

	for (;;) {
		if (r->cap - len < 2 && (err = grow_line(r)) < 0)
			return err;
		if (!fgets(r->line + len, (int)(r->cap - len), r->f))
			break;
		len += strlen(r->line + len);
		if (len && r->line[len - 1] == '\n')
			break;
	}
	if (ferror(r->f))
		return -EIO;
	if (!len)
		return 0;
	while (len && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r'))
		r->line[--len] = '\0';
	*ret_len = len;
	return 1;
}

/* A number then a comma; moves *p past the comma. */
static int parse_field(char **p, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(*p, &end);
	if (end == *p || *end != ',' || errno == ERANGE || !isfinite(v))
		return -EPROTO;
	*p = end + 1;
	*ret = v;
	return 0;
}

static int parse_interval(char *p, size_t len, struct shmq_hist_log_entry *e)
{
	char *end = p + len;
	size_t tlen;
	int r;

	e->tag[0] = '\0';
	if (!strncmp(p, "Tag=", 4)) {
		char *comma = strchr(p + 4, ',');

		tlen = comma ? (size_t)(comma - p - 4) : 0;
		if (!comma || tlen == 0 || tlen > SHMQ_HIST_TAG_MAX)
			return -EPROTO;
		memcpy(e->tag, p + 4, tlen);
		e->tag[tlen] = '\0';
		p = comma + 1;
	}
	if (parse_field(&p, &e->start_s) < 0 || parse_field(&p, &e->interval_s) < 0 ||
	    parse_field(&p, &e->max) < 0)
		return -EPROTO;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	r = shmq_hist_decode_base64(p, (size_t)(end - p), &e->hist);
	return r == -ENOMEM ? r : (r < 0 ? -EPROTO : 0);
}

static void parse_time_comment(shmq_hist_log_reader *r, const char *line)
{
	if (!strncmp(line, "#[StartTime: ", 13))
		r->start_time = strtod(line + 13, NULL);
	else if (!strncmp(line, "#[BaseTime: ", 12))
		r->base_time = strtod(line + 12, NULL);
}

SHMQ_API int shmq_hist_log_read(shmq_hist_log_reader *r, struct shmq_hist_log_entry *ret_entry)
{
	struct shmq_hist_log_entry e;
	size_t len;
	int rc;

	if (!r || !ret_entry)
		return -EINVAL;
	for (;;) {
		rc = read_line(r, &len);
		if (rc <= 0)
			return rc;
		if (r->line[0] == '#') {
			parse_time_comment(r, r->line);
			continue;
		}
		/* the CSV legend and blank lines carry nothing */
		if (r->line[0] == '"' || len == 0)
			continue;
		rc = parse_interval(r->line, len, &e);
		if (rc < 0)
			return rc;
		*ret_entry = e;
		return 1;
	}
}
