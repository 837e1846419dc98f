/* Sieving: the sieve of Eratosthenes three ways over the same range, each a
 * memory-bound loop of a different shape: one byte per number (strided
 * stores), one bit per odd number (read-modify-write of words), and a
 * segmented sieve over a cache-sized window (short strided runs restarted per
 * segment). Every count must agree; the checksum folds in the primes found. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t sieve_bytes(uint8_t *comp, uint32_t n) {
    memset(comp, 0, n + 1);
    uint32_t count = 0;
    for (uint32_t i = 2; i <= n; i++) {
        if (comp[i]) continue;
        count++;
        for (uint64_t j = (uint64_t)i * i; j <= n; j += i) comp[j] = 1;
    }
    return count;
}

/* bit k stands for the odd number 2k+1 */
static uint32_t sieve_bits(uint32_t *bits, uint32_t n) {
    uint32_t odds = (n + 1) / 2;
    memset(bits, 0, ((odds + 31) / 32) * 4);
    uint32_t count = n >= 2 ? 1 : 0; /* the prime 2 */
    for (uint32_t k = 1; k < odds; k++) {
        if (bits[k >> 5] & (1u << (k & 31))) continue;
        count++;
        uint32_t p = 2 * k + 1;
        for (uint64_t m = ((uint64_t)p * p) / 2; m < odds; m += p)
            bits[m >> 5] |= 1u << (m & 31);
    }
    return count;
}

static uint32_t sieve_segmented(uint32_t n, uint32_t *checksum) {
    const uint32_t seg = 32768;
    uint32_t root = 1;
    while ((uint64_t)(root + 1) * (root + 1) <= n) root++;
    uint8_t *small = calloc(root + 1, 1);
    uint32_t *primes = malloc(sizeof(uint32_t) * (root + 1));
    uint32_t np = 0;
    for (uint32_t i = 2; i <= root; i++) {
        if (small[i]) continue;
        primes[np++] = i;
        for (uint32_t j = i * i; j <= root; j += i) small[j] = 1;
    }
    uint64_t *next = malloc(sizeof(uint64_t) * (np + 1));
    for (uint32_t i = 0; i < np; i++) next[i] = (uint64_t)primes[i] * primes[i];
    uint8_t *win = malloc(seg);
    uint32_t count = 0, h = 2166136261u;
    for (uint64_t lo = 2; lo <= n; lo += seg) {
        uint64_t hi = lo + seg - 1;
        if (hi > n) hi = n;
        memset(win, 0, seg);
        for (uint32_t i = 0; i < np; i++) {
            uint64_t j = next[i];
            for (; j <= hi; j += primes[i]) win[j - lo] = 1;
            next[i] = j;
        }
        for (uint64_t x = lo; x <= hi; x++) {
            if (!win[x - lo]) {
                count++;
                h = (h ^ (uint32_t)x) * 16777619u;
            }
        }
    }
    free(win); free(next); free(primes); free(small);
    *checksum = h;
    return count;
}

int main(int argc, char **argv) {
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], 0, 10) : 20000000u;
    uint8_t *comp = malloc(n + 1);
    uint32_t *bits = malloc(((n / 2 + 32) / 32) * 4);
    uint32_t a = 0, b = 0, c = 0, h = 0;
    for (int round = 0; round < 2; round++) {
        a = sieve_bytes(comp, n);
        b = sieve_bits(bits, n);
        c = sieve_segmented(n, &h);
    }
    if (a != b || b != c) {
        printf("MISMATCH %u %u %u\n", a, b, c);
        return 1;
    }
    printf("primes below %u: %u\nchecksum: %08x\n", n, a, h ^ a);
    free(comp); free(bits);
    return 0;
}
