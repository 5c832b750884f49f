// SPDX-License-Identifier: MIT
/* hist_svg.c - a histogram's percentile distribution as a standalone SVG plot. */
#include <errno.h>
#include <math.h>

#include "cli.h"

/*
 * As HdrHistogram's plotter: latency (linear, up) against the percentile on a scale of
 * "nines" (across): 90 % is 1, 99 % is 2, 99.9 % is 3, so the tail gets the room.
 */

#define PLOT_W 800
#define PLOT_H 400
#define PLOT_L 80 /* the latency labels' margin */
#define PLOT_T 40
#define PLOT_B 40

static double nines(double pct, double most)
{
	double n = pct >= 100 ? most : -log10(1 - pct / 100);

	return n < most ? n : most;
}

static void svg_axes(FILE *f, double most, int64_t max)
{
	static const char *const pct[] = { "0%",     "90%",	"99%",	    "99.9%",
					   "99.99%", "99.999%", "99.9999%", "99.99999%" };
	char buf[32];
	int i;

	for (i = 0; i <= (int)most && i < 8; i++) {
		double x = PLOT_L + i / most * PLOT_W;

		fprintf(f,
			"<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#ccc'/>"
			"<text x='%.1f' y='%d' font-size='11' text-anchor='middle'>%s</text>\n",
			x, PLOT_T, x, PLOT_T + PLOT_H, x, PLOT_T + PLOT_H + 16, pct[i]);
	}
	for (i = 0; i <= 4; i++) {
		double y = PLOT_T + PLOT_H - i * PLOT_H / 4.0;

		fprintf(f,
			"<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ccc'/>"
			"<text x='%d' y='%.1f' font-size='11' text-anchor='end'>%s</text>\n",
			PLOT_L, y, PLOT_L + PLOT_W, y, PLOT_L - 6, y + 4,
			cli_fmt_ns((int64_t)((double)max * i / 4), buf, sizeof(buf)));
	}
}

static int svg_curve(FILE *f, const shmq_hist *h, double most, int64_t max)
{
	struct shmq_hist_iter_step st;
	shmq_hist_iter *it;
	int r = shmq_hist_iter_percentile(h, 5, &it);

	if (r < 0)
		return r;
	fprintf(f, "<polyline fill='none' stroke='#1f4e9a' stroke-width='2' points='");
	while (shmq_hist_iter_next(it, &st) == 1)
		fprintf(f, "%.1f,%.1f ", PLOT_L + nines(st.percentile_level, most) / most * PLOT_W,
			PLOT_T + PLOT_H - (double)st.value / (double)max * PLOT_H);
	fprintf(f, "'/>\n");
	shmq_hist_iter_free(it);
	return 0;
}

int cli_hist_svg(const shmq_hist *h, const char *path, const char *title)
{
	uint64_t total = shmq_hist_total(h);
	double most = total > 10 ? ceil(log10((double)total)) : 1;
	int64_t max = shmq_hist_max(h) > 0 ? shmq_hist_max(h) : 1;
	FILE *f = fopen(path, "w");
	int r;

	if (!f)
		return -errno;
	most = most < 7 ? most : 7;
	fprintf(f,
		"<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
		"font-family='sans-serif'>\n<rect width='100%%' height='100%%' fill='white'/>\n"
		"<text x='10' y='20' font-size='14' font-weight='bold'>%s: latency by percentile, "
		"%llu records</text>\n",
		PLOT_L + PLOT_W + 40, PLOT_T + PLOT_H + PLOT_B, title, (unsigned long long)total);
	svg_axes(f, most, max);
	r = total ? svg_curve(f, h, most, max) : 0;
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	return r;
}
