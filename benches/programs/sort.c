/* Memory-heavy: qsort of one million integers and of 300 000 records with a
 * multi-key comparator (the comparator is an indirect call from libc). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t key;
    uint16_t group;
    char name[10];
} Record;

static uint32_t st = 88172645u;
static uint32_t rnd(void) {
    st ^= st << 13;
    st ^= st >> 17;
    st ^= st << 5;
    return st;
}

static int cmp_u32(const void *pa, const void *pb) {
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

static int cmp_record(const void *pa, const void *pb) {
    const Record *a = pa, *b = pb;
    if (a->group != b->group) return a->group < b->group ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (c) return c;
    return (a->key > b->key) - (a->key < b->key);
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 6;
    size_t n = 250000 * (size_t)scale;
    uint32_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = rnd();
    qsort(v, n, sizeof *v, cmp_u32);
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && v[i - 1] > v[i]) { printf("not sorted\n"); return 1; }
        h = h * 31 + v[i];
    }

    size_t m = 75000 * (size_t)scale;
    Record *r = malloc(m * sizeof *r);
    for (size_t i = 0; i < m; i++) {
        r[i].key = rnd();
        r[i].group = (uint16_t)(rnd() % 50);
        int len = 3 + (int)(rnd() % 6);
        for (int k = 0; k < len; k++) r[i].name[k] = (char)('a' + rnd() % 4);
        r[i].name[len] = 0;
    }
    qsort(r, m, sizeof *r, cmp_record);
    uint32_t g = 0;
    for (size_t i = 0; i < m; i++) {
        if (i && cmp_record(&r[i - 1], &r[i]) > 0) { printf("records not sorted\n"); return 1; }
        g = g * 131 + r[i].key + r[i].group + (uint8_t)r[i].name[0];
    }
    printf("sorted %zu ints (hash %08x) and %zu records (hash %08x)\n", n, h, m, g);
    printf("checksum: %08x\n", h ^ g);
    free(v);
    free(r);
    return 0;
}
