/* Tight loops over locals: Collatz chain lengths, an integer square-root
 * search, and a nested mixing loop. No memory traffic beyond the stack. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t collatz_longest(uint32_t limit, uint32_t *best_start) {
    uint32_t best = 0;
    for (uint32_t start = 1; start < limit; start++) {
        uint64_t x = start;
        uint32_t steps = 0;
        while (x != 1) {
            x = (x & 1) ? 3 * x + 1 : x >> 1;
            steps++;
        }
        if (steps > best) {
            best = steps;
            *best_start = start;
        }
    }
    return best;
}

/* Integer square root by bit-by-bit search, summed over a range. */
static uint64_t isqrt_sum(uint32_t from, uint32_t count) {
    uint64_t sum = 0;
    for (uint32_t k = 0; k < count; k++) {
        uint32_t v = from + k * 7919u;
        uint32_t root = 0;
        for (int bit = 15; bit >= 0; bit--) {
            uint32_t cand = root | (1u << bit);
            if (cand * cand <= v) root = cand;
        }
        sum += root;
    }
    return sum;
}

static uint32_t mix_grid(uint32_t rows, uint32_t cols) {
    uint32_t a = 0x9e3779b9u, b = 0x7f4a7c15u, c = 1;
    for (uint32_t i = 0; i < rows; i++) {
        for (uint32_t j = 0; j < cols; j++) {
            a += j ^ i;
            b ^= (a << 5) | (a >> 27);
            c = c * 33 + (b >> 3);
            if (c & 0x100) a -= c; else b += i;
        }
    }
    return a ^ b ^ c;
}

int main(int argc, char **argv) {
    uint32_t scale = argc > 1 ? (uint32_t)atoi(argv[1]) : 16;
    uint32_t best_start = 0;
    uint32_t best = collatz_longest(100000 * scale, &best_start);
    uint64_t roots = isqrt_sum(12345, 400000 * scale);
    uint32_t grid = mix_grid(1000 * scale, 2000);
    printf("collatz: start %u takes %u steps\n", best_start, best);
    printf("isqrt sum: %llu\n", (unsigned long long)roots);
    printf("grid: %08x\n", grid);
    printf("checksum: %08x\n",
           (unsigned)(best_start * 31u + best) ^ (unsigned)roots ^ (unsigned)(roots >> 32) ^ grid);
    return 0;
}
