/* Integer recursion and calls: naive Fibonacci plus the Takeuchi function.
 * Almost all time is spent in call/return and small integer arithmetic. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t fib(uint32_t n) {
    if (n < 2) return n;
    return fib(n - 1) + fib(n - 2);
}

static int32_t tak(int32_t x, int32_t y, int32_t z) {
    if (y >= x) return z;
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y));
}

int main(int argc, char **argv) {
    /* argv[1] overrides the Fibonacci argument (default 40). */
    uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 40;
    uint32_t f = fib(n);
    int32_t t = 0;
    for (int32_t i = 0; i < 4; i++) t += tak(18 + i % 2, 12, 6 - i);
    printf("fib(%u) = %u\n", n, f);
    printf("tak sum = %d\n", t);
    printf("checksum: %08x\n", (unsigned)(f * 2654435761u ^ (uint32_t)t));
    return 0;
}
