/* Memory-heavy: memcpy, memmove (overlapping), memset, memcmp and a plain
 * byte-copy loop over two 4 MiB arenas at pseudo-random offsets, with lengths
 * from 1 byte to 32 KiB (mostly short, as in real programs). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA (4u << 20)

static uint32_t st = 0xc0ffee11u;
static uint32_t rnd(void) {
    st ^= st << 13;
    st ^= st >> 17;
    st ^= st << 5;
    return st;
}

static uint32_t pick_len(void) {
    uint32_t r = rnd();
    switch (r & 7) {
    case 0: case 1: case 2: case 3: return 1 + (r >> 8) % 16; /* tiny */
    case 4: case 5: return 16 + (r >> 8) % 240;                /* small */
    case 6: return 256 + (r >> 8) % 3840;                      /* medium */
    default: return 4096 + (r >> 8) % 28672;                   /* large */
    }
}

int main(int argc, char **argv) {
    int ops = argc > 1 ? atoi(argv[1]) : 6000000;
    uint8_t *a = malloc(ARENA);
    uint8_t *b = malloc(ARENA);
    for (uint32_t i = 0; i < ARENA; i++) {
        a[i] = (uint8_t)(i * 7 + (i >> 9));
        b[i] = (uint8_t)rnd();
    }
    uint64_t acc = 0;
    for (int i = 0; i < ops; i++) {
        uint32_t len = pick_len();
        uint32_t src = rnd() % (ARENA - len);
        uint32_t dst = rnd() % (ARENA - len);
        switch (i % 6) {
        case 0: memcpy(a + dst, b + src, len); break;
        case 1: memcpy(b + dst, a + src, len); break;
        case 2: memmove(a + dst, a + src, len); break;
        case 3: memset(b + dst, (int)(i & 0xff), len / 4 + 1); break;
        case 4: {
            int c = memcmp(a + dst, b + src, len);
            acc += c < 0 ? 1 : (c > 0 ? 2 : 3);
            break;
        }
        default: /* a byte loop the compiler cannot turn into a libc call */
            for (uint32_t k = 0; k < (len & 1023); k++) b[dst + k] = (uint8_t)(a[src + k] ^ (k * 13));
        }
        acc += a[dst] + b[(src + len / 2) % ARENA];
    }
    /* FNV-1a over both arenas, sampled every 8th byte */
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < ARENA; i += 8) {
        h = (h ^ a[i]) * 16777619u;
        h = (h ^ b[i + 3]) * 16777619u;
    }
    printf("ops %d, running sum %llu, fnv %08x\n", ops, (unsigned long long)acc, h);
    printf("checksum: %08x\n", h ^ (uint32_t)acc ^ (uint32_t)(acc >> 32));
    free(a);
    free(b);
    return 0;
}
