// SPDX-License-Identifier: MIT
/* headers.c - record header blocks (shmq/headers.h): build, check, read; and a handle's copy. */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ENTRY_HDR 4u

/* The HTTP token characters (RFC 9110 tchar): letters, digits and !#$%&'*+-.^_`|~. */
static const uint8_t tchars[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
	['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
	['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
	['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
	['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
	['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
	['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
	['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static bool key_ok(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n > SHMQ_HDR_KEY_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!tchars[(unsigned char)k[i]])
			return false;
	return true;
}

/* Text with no CR, LF or NUL, in one pass. */
static bool val_ok(const char *v, size_t n)
{
	size_t i;

	if (n > SHMQ_HDR_VAL_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
			return false;
	return true;
}

/*
 * The entry at @pos: 1 and its parts, 0 at the end, -EBADMSG when malformed. Reads only
 * inside [@b, @b + @len).
 */
static int entry_at(const uint8_t *b, size_t len, size_t pos, const char **k, size_t *kn,
		    const char **v, size_t *vn)
{
	size_t klen, vlen;

	if (pos >= len)
		return 0;
	if (len - pos < ENTRY_HDR)
		return -EBADMSG;
	klen = b[pos];
	vlen = (size_t)b[pos + 2] | (size_t)b[pos + 3] << 8;
	if (b[pos + 1] != 0 || len - pos - ENTRY_HDR < klen + vlen)
		return -EBADMSG;
	*k = (const char *)b + pos + ENTRY_HDR;
	*kn = klen;
	*v = *k + klen;
	*vn = vlen;
	return key_ok(*k, klen) && val_ok(*v, vlen) ? 1 : -EBADMSG;
}

int shmq_hdrs_next(const void *hdrs, size_t len, size_t *pos, const char **ret_key,
		   size_t *ret_key_len, const char **ret_val, size_t *ret_val_len)
{
	const char *k, *v;
	size_t kn, vn;
	int r;

	if (!pos || (!hdrs && len))
		return -EINVAL;
	r = entry_at(hdrs, len, *pos, &k, &kn, &v, &vn);
	if (r <= 0)
		return r;
	*pos += ENTRY_HDR + kn + vn;
	if (ret_key)
		*ret_key = k;
	if (ret_key_len)
		*ret_key_len = kn;
	if (ret_val)
		*ret_val = v;
	if (ret_val_len)
		*ret_val_len = vn;
	return 1;
}

int shmq_hdrs_check(const void *hdrs, size_t len)
{
	size_t pos = 0;
	int n = 0, r;

	if (!hdrs && len)
		return -EINVAL;
	if (len > SHMQ_HDRS_MAX)
		return -E2BIG;
	while ((r = shmq_hdrs_next(hdrs, len, &pos, NULL, NULL, NULL, NULL)) == 1)
		if ((unsigned)++n > SHMQ_HDRS_MAX_COUNT)
			return -E2BIG;
	return r < 0 ? r : n;
}

int shmq_hdrs_get(const void *hdrs, size_t len, const char *key, const char **ret_val,
		  size_t *ret_val_len)
{
	size_t pos = 0, kn, vn, want;
	const char *k, *v;
	int r;

	if (!key || (!hdrs && len))
		return -EINVAL;
	want = strlen(key);
	while ((r = shmq_hdrs_next(hdrs, len, &pos, &k, &kn, &v, &vn)) == 1) {
		if (kn == want && memcmp(k, key, kn) == 0) {
			if (ret_val)
				*ret_val = v;
			if (ret_val_len)
				*ret_val_len = vn;
			return 0;
		}
	}
	return r < 0 ? r : -ENOENT;
}

int shmq_hdrs_add(void *block, size_t cap, size_t *len, const char *key, const void *val,
		  size_t val_len)
{
	size_t kn, need;
	uint8_t *p;
	int n;

	if (!block || !len || !key || (!val && val_len))
		return -EINVAL;
	kn = strlen(key);
	if (!key_ok(key, kn) || !val_ok(val, val_len))
		return -EINVAL;
	n = shmq_hdrs_check(block, *len);
	if (n < 0)
		return n == -E2BIG ? -E2BIG : -EINVAL;
	need = ENTRY_HDR + kn + val_len;
	if ((unsigned)n >= SHMQ_HDRS_MAX_COUNT || *len + need > SHMQ_HDRS_MAX)
		return -E2BIG;
	if (*len > cap || cap - *len < need)
		return -ENOSPC;
	p = (uint8_t *)block + *len;
	p[0] = (uint8_t)kn;
	p[1] = 0;
	p[2] = (uint8_t)(val_len & 0xff);
	p[3] = (uint8_t)(val_len >> 8);
	memcpy(p + ENTRY_HDR, key, kn);
	if (val_len)
		memcpy(p + ENTRY_HDR + kn, val, val_len);
	*len += need;
	return 0;
}

/* ---- time headers ---- */

static int add_time(void *block, size_t cap, size_t *len, const char *key, uint64_t in_ns)
{
	uint64_t now = shmq_now_ns(), at = in_ns >= UINT64_MAX - now ? UINT64_MAX : now + in_ns;
	char v[24];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)at);
	return shmq_hdrs_add(block, cap, len, key, v, strlen(v));
}

int shmq_hdrs_add_ttl(void *block, size_t cap, size_t *len, uint64_t ttl_ns)
{
	return add_time(block, cap, len, SHMQ_HDR_EXPIRES, ttl_ns);
}

int shmq_hdrs_add_delay(void *block, size_t cap, size_t *len, uint64_t delay_ns)
{
	if (delay_ns > SHMQ_MAX_DELAY_NS)
		return -EINVAL;
	return add_time(block, cap, len, SHMQ_HDR_NOT_BEFORE, delay_ns);
}

int shmq_hdrs_time(const void *hdrs, size_t len, const char *key, uint64_t *ret_ns)
{
	uint64_t v = 0;
	const char *p;
	size_t n, i;
	int r;

	if (!ret_ns)
		return -EINVAL;
	r = shmq_hdrs_get(hdrs, len, key, &p, &n);
	if (r < 0)
		return r;
	if (n == 0 || n > 20)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*ret_ns = v;
	return 0;
}

uint64_t shmqi_hdrs_when(const void *hdrs, size_t len, const char *key)
{
	uint64_t v;

	return len && shmq_hdrs_time(hdrs, len, key, &v) == 0 ? v : 0;
}

size_t shmqi_hdrs_untimed(const void *hdrs, size_t len, uint8_t *out)
{
	size_t pos = 0, n = 0, kn, vn;
	const char *k, *v;
	char key[SHMQ_HDR_KEY_MAX + 1];

	while (shmq_hdrs_next(hdrs, len, &pos, &k, &kn, &v, &vn) == 1) {
		memcpy(key, k, kn);
		key[kn] = '\0';
		if (strcmp(key, SHMQ_HDR_EXPIRES) != 0 && strcmp(key, SHMQ_HDR_NOT_BEFORE) != 0)
			shmq_hdrs_add(out, SHMQ_HDRS_MAX, &n, key, v, vn);
	}
	return n;
}

/* ---- the headers of the record a handle delivered last ---- */

int shmqi_held_copy(struct shmqi_held *h, const void *src, uint32_t len)
{
	if (!h->buf) {
		h->buf = malloc(SHMQ_HDRS_MAX);
		if (!h->buf)
			return -ENOMEM;
	}
	if (len)
		memcpy(h->buf, src, len);
	h->ptr = h->buf;
	h->len = len;
	return 0;
}

int shmqi_held_get(const struct shmqi_held *h, const void **ret_hdrs, size_t *ret_len)
{
	if (!ret_hdrs || !ret_len)
		return -EINVAL;
	*ret_hdrs = h->len ? h->ptr : NULL;
	*ret_len = h->len;
	return 0;
}
