/* Hashing: SHA-256 (FIPS 180-4) written from the specification, run over a
 * large generated buffer several times, each round chained to the last.
 * The round constants are derived at start-up from the primes with exact
 * integer root extraction instead of being tabulated. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t K[64];
static uint32_t H0[8];

typedef unsigned __int128 u128;

/* floor(root(p * 2^(32*deg))) for deg 2 (square) or 3 (cube), by bisection */
static uint64_t int_root(uint32_t p, int deg) {
    u128 target = (u128)p << (32 * deg);
    uint64_t lo = 0, hi = (uint64_t)1 << 40;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        u128 v = (u128)mid * mid;
        if (deg == 3) v *= mid;
        if (v <= target) lo = mid; else hi = mid - 1;
    }
    return lo;
}

static void derive_constants(void) {
    int found = 0;
    for (uint32_t p = 2; found < 64; p++) {
        int prime = 1;
        for (uint32_t d = 2; d * d <= p; d++)
            if (p % d == 0) { prime = 0; break; }
        if (!prime) continue;
        K[found] = (uint32_t)int_root(p, 3);
        if (found < 8) H0[found] = (uint32_t)int_root(p, 2);
        found++;
    }
}

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

typedef struct {
    uint32_t h[8];
    uint8_t block[64];
    uint32_t used;
    uint64_t total;
} Sha256;

static void compress(uint32_t *h, const uint8_t *blk) {
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)blk[4 * t] << 24 | (uint32_t)blk[4 * t + 1] << 16 |
               (uint32_t)blk[4 * t + 2] << 8 | blk[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + K[t] + w[t];
        uint32_t S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void sha_init(Sha256 *s) {
    memcpy(s->h, H0, sizeof H0);
    s->used = 0;
    s->total = 0;
}

static void sha_update(Sha256 *s, const uint8_t *data, size_t len) {
    s->total += len;
    while (len > 0) {
        if (s->used == 0 && len >= 64) {
            compress(s->h, data);
            data += 64;
            len -= 64;
            continue;
        }
        size_t take = 64 - s->used;
        if (take > len) take = len;
        memcpy(s->block + s->used, data, take);
        s->used += (uint32_t)take;
        data += take;
        len -= take;
        if (s->used == 64) {
            compress(s->h, s->block);
            s->used = 0;
        }
    }
}

static void sha_final(Sha256 *s, uint8_t out[32]) {
    uint64_t bits = s->total * 8;
    uint8_t pad = 0x80;
    sha_update(s, &pad, 1);
    uint8_t zero = 0;
    while (s->used != 56) sha_update(s, &zero, 1);
    uint8_t len_be[8];
    for (int i = 0; i < 8; i++) len_be[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha_update(s, len_be, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

static void hex(const uint8_t *d, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = 0;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    derive_constants();

    uint8_t digest[32];
    char text[65];
    Sha256 s;
    sha_init(&s);
    sha_update(&s, (const uint8_t *)"abc", 3);
    sha_final(&s, digest);
    hex(digest, text);
    if (strcmp(text, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0) {
        printf("self-test failed: %s\n", text);
        return 1;
    }

    size_t size = (size_t)8 << 20;
    uint8_t *buf = malloc(size);
    uint32_t x = 0x12345678u;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)(x >> 24);
    }
    for (int r = 0; r < rounds; r++) {
        sha_init(&s);
        /* odd-sized pieces exercise the buffering path too */
        size_t off = 0, piece = 1000003;
        while (off < size) {
            size_t n = size - off < piece ? size - off : piece;
            sha_update(&s, buf + off, n);
            off += n;
        }
        sha_final(&s, digest);
        memcpy(buf, digest, 32);
    }
    hex(digest, text);
    printf("sha256 of %d chained rounds over %zu bytes\n", rounds, size);
    printf("checksum: %s\n", text);
    free(buf);
    return 0;
}
