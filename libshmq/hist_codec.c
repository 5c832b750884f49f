// SPDX-License-Identifier: MIT
/* hist_codec.c - HdrHistogram's V2 encoding (plain and zlib-compressed) and its base64. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hist_internal.h"

#define V2_COOKIE 0x1c849313u
#define V2_COMPRESSED_COOKIE 0x1c849314u
/* HdrHistogram compares cookies without their word-size nibble */
#define COOKIE_BASE(c) ((c) & ~0xf0u)

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ZigZag LEB128-64b9B: 7 bits a byte for 8 bytes, then a 9th byte with the last 8 bits. */
static size_t put_zigzag(uint8_t *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;

	for (int i = 0; i < 8; i++) {
		if (z < 0x80) {
			p[n++] = (uint8_t)z;
			return n;
		}
		p[n++] = (uint8_t)((z & 0x7f) | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}

static int get_zigzag(const uint8_t *p, size_t len, size_t *pos, int64_t *ret)
{
	uint64_t z = 0;

	for (int i = 0; i < 9; i++) {
		uint8_t b;

		if (*pos >= len)
			return -EPROTO;
		b = p[(*pos)++];
		if (i == 8) {
			z |= (uint64_t)b << 56;
			break;
		}
		z |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			break;
	}
	*ret = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
	return 0;
}

/* Counts up to the largest recorded bucket, zero runs as negative numbers. */
static int encode_counts(const shmq_hist *h, uint8_t *p, size_t *ret_len)
{
	int32_t limit = h->total ? (int32_t)shmqi_hist_index(&h->cfg, h->max_value) + 1 : 1;
	size_t n = 0;

	for (int32_t i = 0; i < limit;) {
		uint64_t c = h->counts[i++];
		int64_t zeros = 0;

		if (c > INT64_MAX)
			return -EOVERFLOW;
		if (c == 0) {
			zeros = 1;
			while (i < limit && h->counts[i] == 0) {
				zeros++;
				i++;
			}
		}
		n += put_zigzag(p + n, zeros > 1 ? -zeros : (int64_t)c);
	}
	*ret_len = n;
	return 0;
}

static int encode_plain(const shmq_hist *h, uint8_t **ret_buf, size_t *ret_len)
{
	int32_t limit = h->total ? (int32_t)shmqi_hist_index(&h->cfg, h->max_value) + 1 : 1;
	size_t payload;
	uint8_t *buf;
	int r;

	buf = malloc(SHMQI_HIST_V2_HEADER + (size_t)limit * SHMQI_HIST_V2_MAX_WORD);
	if (!buf)
		return -ENOMEM;
	r = encode_counts(h, buf + SHMQI_HIST_V2_HEADER, &payload);
	if (r < 0) {
		free(buf);
		return r;
	}
	put_be32(buf, V2_COOKIE);
	put_be32(buf + 4, (uint32_t)payload);
	put_be32(buf + 8, 0); /* normalizing index offset */
	put_be32(buf + 12, (uint32_t)h->cfg.sigfigs);
	put_be64(buf + 16, (uint64_t)h->cfg.lowest);
	put_be64(buf + 24, (uint64_t)h->cfg.highest);
	put_be64(buf + 32, 0x3ff0000000000000ull); /* conversion ratio 1.0 as an IEEE double */
	*ret_buf = buf;
	*ret_len = SHMQI_HIST_V2_HEADER + payload;
	return 0;
}

static int compress_v2(const uint8_t *plain, size_t plain_len, uint8_t **ret_buf, size_t *ret_len)
{
	uLongf clen = compressBound((uLong)plain_len);
	uint8_t *buf = malloc(8 + clen);

	if (!buf)
		return -ENOMEM;
	if (compress2(buf + 8, &clen, plain, (uLong)plain_len, Z_DEFAULT_COMPRESSION) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	put_be32(buf, V2_COMPRESSED_COOKIE);
	put_be32(buf + 4, (uint32_t)clen);
	*ret_buf = buf;
	*ret_len = 8 + clen;
	return 0;
}

SHMQ_API int shmq_hist_encode(const shmq_hist *h, unsigned flags, void **ret_buf, size_t *ret_len)
{
	uint8_t *plain, *out;
	size_t plain_len, out_len;
	int r;

	if (!h || !ret_buf || !ret_len || (flags & ~SHMQ_HIST_ENC_COMPRESSED))
		return -EINVAL;
	r = encode_plain(h, &plain, &plain_len);
	if (r < 0)
		return r;
	if (!(flags & SHMQ_HIST_ENC_COMPRESSED)) {
		*ret_buf = plain;
		*ret_len = plain_len;
		return 0;
	}
	r = compress_v2(plain, plain_len, &out, &out_len);
	free(plain);
	if (r < 0)
		return r;
	*ret_buf = out;
	*ret_len = out_len;
	return 0;
}

/* Checks the 40-byte V2 header; gives the configuration and the declared payload length. */
static int parse_header(const uint8_t *p, struct shmqi_hist_cfg *cfg, size_t *ret_payload)
{
	uint32_t payload = get_be32(p + 4);
	int32_t sigfigs = (int32_t)get_be32(p + 12);

	if (COOKIE_BASE(get_be32(p)) != COOKIE_BASE(V2_COOKIE))
		return -EPROTO;
	/* the normalizing offset (p + 8) and the double ratio (p + 32) are not used for
	 * integer histograms; hdr-histogram-js writes 1 and an integer 1 there */
	if (shmqi_hist_cfg_init(cfg, (int64_t)get_be64(p + 16), (int64_t)get_be64(p + 24),
				sigfigs) < 0)
		return -EPROTO;
	if ((uint32_t)cfg->counts_len > SHMQ_HIST_DECODE_MAX_COUNTS)
		return -EMSGSIZE;
	if (payload > (uint64_t)cfg->counts_len * SHMQI_HIST_V2_MAX_WORD)
		return -EMSGSIZE;
	*ret_payload = payload;
	return 0;
}

static int fill_counts(shmq_hist *h, const uint8_t *p, size_t len)
{
	int64_t idx = 0, v;
	size_t pos = 0;

	while (pos < len) {
		if (get_zigzag(p, len, &pos, &v) < 0)
			return -EPROTO;
		if (v < 0) {
			/* a run of -v zero counts; INT64_MIN has no positive run length */
			if (v == INT64_MIN || -v > h->cfg.counts_len - idx)
				return -EPROTO;
			idx += -v;
			continue;
		}
		if (idx >= h->cfg.counts_len)
			return -EPROTO;
		h->counts[idx++] = (uint64_t)v;
	}
	return shmqi_hist_recount(h) < 0 ? -EPROTO : 0;
}

static int decode_body(const struct shmqi_hist_cfg *cfg, const uint8_t *payload, size_t len,
		       shmq_hist **ret_hist)
{
	shmq_hist *h;
	int r;

	r = shmqi_hist_alloc(cfg, &h);
	if (r < 0)
		return r;
	r = fill_counts(h, payload, len);
	if (r < 0) {
		shmq_hist_free(h);
		return r;
	}
	*ret_hist = h;
	return 0;
}

static int decode_plain(const uint8_t *p, size_t len, shmq_hist **ret_hist)
{
	struct shmqi_hist_cfg cfg;
	size_t payload;
	int r;

	if (len < SHMQI_HIST_V2_HEADER)
		return -EPROTO;
	r = parse_header(p, &cfg, &payload);
	if (r < 0)
		return r;
	if (payload > len - SHMQI_HIST_V2_HEADER)
		return -EPROTO;
	return decode_body(&cfg, p + SHMQI_HIST_V2_HEADER, payload, ret_hist);
}

/* Inflates exactly @want bytes into @out; more input left over is ignored. */
static int inflate_some(z_stream *zs, uint8_t *out, size_t want)
{
	int zr;

	zs->next_out = out;
	zs->avail_out = (uInt)want;
	while (zs->avail_out) {
		zr = inflate(zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END && zs->avail_out)
			return -EPROTO; /* shorter than declared */
		if (zr == Z_MEM_ERROR)
			return -ENOMEM;
		if (zr != Z_OK && zr != Z_STREAM_END)
			return -EPROTO;
	}
	return 0;
}

/*
 * The header is inflated first; the payload only up to the length it declares, which is
 * capped by the configuration (9 bytes per counts entry): a zlib bomb costs no more.
 */
static int decode_stream(z_stream *zs, shmq_hist **ret_hist)
{
	uint8_t hdr[SHMQI_HIST_V2_HEADER], *payload;
	struct shmqi_hist_cfg cfg;
	size_t plen;
	int r;

	r = inflate_some(zs, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	if (COOKIE_BASE(get_be32(hdr)) != COOKIE_BASE(V2_COOKIE))
		return -EPROTO;
	r = parse_header(hdr, &cfg, &plen);
	if (r < 0)
		return r;
	payload = malloc(plen ? plen : 1);
	if (!payload)
		return -ENOMEM;
	r = inflate_some(zs, payload, plen);
	if (r == 0)
		r = decode_body(&cfg, payload, plen, ret_hist);
	free(payload);
	return r;
}

static int decode_compressed(const uint8_t *p, size_t len, shmq_hist **ret_hist)
{
	uint32_t clen;
	z_stream zs;
	int r;

	if (len < 8)
		return -EPROTO;
	clen = get_be32(p + 4);
	if (clen > len - 8 || clen > UINT32_MAX / 2)
		return -EPROTO;
	memset(&zs, 0, sizeof(zs));
	zs.next_in = (Bytef *)(uintptr_t)(p + 8); /* zlib's API is not const-correct */
	zs.avail_in = clen;
	if (inflateInit(&zs) != Z_OK)
		return -ENOMEM;
	r = decode_stream(&zs, ret_hist);
	inflateEnd(&zs);
	return r;
}

SHMQ_API int shmq_hist_decode(const void *buf, size_t len, unsigned flags, shmq_hist **ret_hist)
{
	uint32_t cookie;

	if (!buf || !ret_hist || flags)
		return -EINVAL;
	if (len < 8)
		return -EPROTO;
	cookie = get_be32(buf);
	if (COOKIE_BASE(cookie) == COOKIE_BASE(V2_COMPRESSED_COOKIE))
		return decode_compressed(buf, len, ret_hist);
	if (COOKIE_BASE(cookie) == COOKIE_BASE(V2_COOKIE))
		return decode_plain(buf, len, ret_hist);
	return -EPROTO;
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
}

SHMQ_API int shmq_hist_encode_base64(const shmq_hist *h, char **ret_str)
{
	size_t len;
	void *buf;
	char *s;
	int r;

	if (!h || !ret_str)
		return -EINVAL;
	r = shmq_hist_encode(h, SHMQ_HIST_ENC_COMPRESSED, &buf, &len);
	if (r < 0)
		return r;
	s = malloc((len + 2) / 3 * 4 + 1);
	if (s)
		b64_encode(buf, len, s);
	free(buf);
	if (!s)
		return -ENOMEM;
	*ret_str = s;
	return 0;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;

	return p ? (int)(p - b64_alphabet) : -1;
}

/* Decodes @len characters (padding already stripped) into @out; returns the byte count. */
static int b64_decode(const char *s, size_t len, uint8_t *out, size_t *ret_len)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -EPROTO;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return -EPROTO;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*ret_len = o;
	return 0;
}

SHMQ_API int shmq_hist_decode_base64(const char *str, size_t len, shmq_hist **ret_hist)
{
	size_t blen;
	uint8_t *buf;
	int r;

	if (!str || !ret_hist)
		return -EINVAL;
	while (len && str[len - 1] == '=')
		len--;
	buf = malloc(len / 4 * 3 + 3);
	if (!buf)
		return -ENOMEM;
	r = b64_decode(str, len, buf, &blen);
	if (r == 0)
		r = shmq_hist_decode(buf, blen, 0, ret_hist);
	free(buf);
	return r;
}
