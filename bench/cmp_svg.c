// SPDX-License-Identifier: MIT
/* cmp_svg.c - shmq-bench compare --svg: the 64-byte results as one self-contained SVG chart. */
#include <math.h>
#include <stdio.h>

#include "compare.h"

/*
 * Up to three panels, one row per transport, on log-scale axes (the transports span four
 * decades): the ping-pong percentiles back to back and at the fixed rate, as stacked bars
 * (p50, then p99, then p99.9, lighter each), and the throughput. Polling transports are
 * blue, blocking ones orange; the labels repeat the wait mode for readers without colour.
 */

#define SVG_W 960
#define SVG_LABEL 230 /* the names' column */
#define SVG_PLOT (SVG_W - SVG_LABEL - 40)
#define SVG_ROW 18
#define SVG_HEAD 48 /* a panel's title and axis labels */

static const char *const poll_col[3] = { "#1f4e9a", "#5b8bd6", "#b7cdf0" };
static const char *const block_col[3] = { "#b35806", "#f1a340", "#fee0b6" };

struct axis {
	double lo, hi; /* decades: 10^lo .. 10^hi */
};

static double axis_x(const struct axis *a, double v)
{
	double l = v > 0 ? log10(v) : a->lo;

	if (l < a->lo)
		l = a->lo;
	return SVG_LABEL + (l - a->lo) / (a->hi - a->lo) * SVG_PLOT;
}

/* Decades that hold every value in [@min, @max]. */
static struct axis axis_of(double min, double max)
{
	struct axis a = { floor(log10(min > 0 ? min : 1)), ceil(log10(max > 1 ? max : 10)) };

	if (a.hi <= a.lo)
		a.hi = a.lo + 1;
	return a;
}

static void axis_draw(FILE *f, const struct axis *a, int y0, int rows, const char *unit)
{
	int d, y1 = y0 + rows * SVG_ROW;
	static const char *const si[] = { "1",	  "10", "100", "1k",   "10k",
					  "100k", "1M", "10M", "100M", "1G" };

	for (d = (int)a->lo; d <= (int)a->hi; d++) {
		double x = axis_x(a, pow(10, d));

		fprintf(f,
			"<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#ccc'/>"
			"<text x='%.1f' y='%d' font-size='11' text-anchor='middle'>%s%s</text>\n",
			x, y0 - 4, x, y1, x, y0 - 8, d >= 0 && d <= 9 ? si[d] : "?", unit);
	}
}

static int pp_rows(const struct pp_opts *o, const struct pp_summary *s)
{
	int ti, n = 0;

	for (ti = 0; ti < PP_NTRANSPORTS; ti++)
		n += o->use[ti] && s[ti].med[P50] > 0;
	return n;
}

static void label(FILE *f, int y, const char *name, bool block)
{
	fprintf(f, "<text x='%d' y='%d' font-size='12' text-anchor='end'>%s (%s)</text>\n",
		SVG_LABEL - 6, y + 13, name, wait_name(block));
}

/* A panel of stacked percentile bars; returns the height used. */
static int pp_panel(FILE *f, int y, const char *title, const struct pp_opts *o,
		    const struct pp_summary *s)
{
	static const int q[3] = { P50, P99, P999 };
	double min = 0, max = 0;
	struct axis a;
	int ti, i, k, row = 0, rows = pp_rows(o, s);

	for (ti = 0; ti < PP_NTRANSPORTS; ti++) {
		if (!o->use[ti] || s[ti].med[P50] == 0)
			continue;
		if (min == 0 || s[ti].med[P50] < min)
			min = (double)s[ti].med[P50];
		if (s[ti].med[P999] > max)
			max = (double)s[ti].med[P999];
	}
	a = axis_of(min, max);
	fprintf(f, "<text x='10' y='%d' font-size='14' font-weight='bold'>%s</text>\n", y + 16,
		title);
	axis_draw(f, &a, y + SVG_HEAD, rows, " ns");
	for (k = 0; k < 2 * PP_NTRANSPORTS; k++) { /* the polling rows, then the blocking ones */
		int tk = k % PP_NTRANSPORTS;
		const struct pp_transport *t = pp_transports[tk];
		int ry = y + SVG_HEAD + row * SVG_ROW;

		if (!o->use[tk] || s[tk].med[P50] == 0 || t->block != (k >= PP_NTRANSPORTS))
			continue;
		label(f, ry, t->name, t->block);
		/* Widest first, so that p50 is drawn over p99 over p99.9. */
		for (i = 2; i >= 0; i--)
			fprintf(f,
				"<rect x='%d' y='%d' width='%.1f' height='%d' fill='%s'>"
				"<title>%s p%s %llu ns</title></rect>\n",
				SVG_LABEL, ry + 2, axis_x(&a, (double)s[tk].med[q[i]]) - SVG_LABEL,
				SVG_ROW - 4, (t->block ? block_col : poll_col)[i], t->name,
				i == 0	 ? "50"
				: i == 1 ? "99"
					 : "99.9",
				(unsigned long long)s[tk].med[q[i]]);
		row++;
	}
	return SVG_HEAD + rows * SVG_ROW + 20;
}

static int tp_rows(const struct tp_opts *o, const struct tp_summary *s)
{
	int ti, n = 0;

	for (ti = 0; ti < TP_NTRANSPORTS; ti++)
		n += o->use[ti] && s[ti].med > 0;
	return n;
}

static int tp_panel(FILE *f, int y, const struct tp_opts *o, const struct tp_summary *s)
{
	double min = 0, max = 0;
	struct axis a;
	int ti, k, row = 0, rows = tp_rows(o, s);

	for (ti = 0; ti < TP_NTRANSPORTS; ti++) {
		if (!o->use[ti] || s[ti].med <= 0)
			continue;
		if (min == 0 || s[ti].med < min)
			min = s[ti].med;
		if (s[ti].med > max)
			max = s[ti].med;
	}
	a = axis_of(min, max);
	fprintf(f,
		"<text x='10' y='%d' font-size='14' font-weight='bold'>one-way throughput, 64 "
		"bytes, messages/s (log scale; longer is better)</text>\n",
		y + 16);
	axis_draw(f, &a, y + SVG_HEAD, rows, "");
	for (k = 0; k < 2 * TP_NTRANSPORTS; k++) {
		int tk = k % TP_NTRANSPORTS;
		const struct tp_transport *t = tp_transports[tk];
		int ry = y + SVG_HEAD + row * SVG_ROW;

		if (!o->use[tk] || s[tk].med <= 0 || t->block != (k >= TP_NTRANSPORTS))
			continue;
		label(f, ry, t->name, t->block);
		fprintf(f,
			"<rect x='%d' y='%d' width='%.1f' height='%d' fill='%s'>"
			"<title>%s %.0f msg/s</title></rect>\n",
			SVG_LABEL, ry + 2, axis_x(&a, s[tk].med) - SVG_LABEL, SVG_ROW - 4,
			(t->block ? block_col : poll_col)[0], t->name, s[tk].med);
		row++;
	}
	return SVG_HEAD + rows * SVG_ROW + 20;
}

int cmp_svg(const char *path, const struct pp_opts *po, const struct pp_summary *ps,
	    const struct pp_opts *fo, const struct pp_summary *fs, const struct tp_opts *to,
	    const struct tp_summary *ts)
{
	int h = 80 + SVG_HEAD + pp_rows(po, ps) * SVG_ROW + 20 +
		(fo ? SVG_HEAD + pp_rows(fo, fs) * SVG_ROW + 20 : 0) + SVG_HEAD +
		tp_rows(to, ts) * SVG_ROW + 20;
	char title[160];
	FILE *f = fopen(path, "w");
	int y = 50;

	if (!f)
		return fail(path, -errno);
	fprintf(f,
		"<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
		"font-family='sans-serif'>\n<rect width='100%%' height='100%%' fill='white'/>\n"
		"<text x='10' y='20' font-size='16' font-weight='bold'>shmq-bench compare, 64 "
		"bytes, medians of %llu reps</text>\n<text x='10' y='38' font-size='12'>bars: "
		"dark p50, then p99, light p99.9; blue: busy-polling, orange: blocking "
		"(kernel or library waits)</text>\n",
		SVG_W, h, (unsigned long long)po->reps);
	y += pp_panel(f, y,
		      "ping-pong round-trip time, back to back (log scale; shorter is "
		      "better)",
		      po, ps);
	if (fo) {
		snprintf(title, sizeof(title),
			 "ping-pong round-trip time at a fixed %llu/s, each timed from when it was "
			 "due",
			 (unsigned long long)fo->rate);
		y += pp_panel(f, y, title, fo, fs);
	}
	tp_panel(f, y, to, ts);
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0)
		return fail(path, -errno);
	return 0;
}
