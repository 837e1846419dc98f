/* Indirect calls: a table of small operations picked by data, plus
 * "objects" with per-type method tables (a hand-written vtable). Every call
 * goes through call_indirect in wasm. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef uint32_t (*op_fn)(uint32_t, uint32_t);

static uint32_t op_add(uint32_t a, uint32_t b) { return a + b; }
static uint32_t op_sub(uint32_t a, uint32_t b) { return a - b; }
static uint32_t op_xor(uint32_t a, uint32_t b) { return a ^ b; }
static uint32_t op_mul(uint32_t a, uint32_t b) { return a * (b | 1); }
static uint32_t op_rotl(uint32_t a, uint32_t b) { b &= 31; return (a << b) | (a >> ((32 - b) & 31)); }
static uint32_t op_min(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t op_avg(uint32_t a, uint32_t b) { return (a >> 1) + (b >> 1) + (a & b & 1); }
static uint32_t op_hash(uint32_t a, uint32_t b) { return (a ^ b) * 0x45d9f3bu; }

static op_fn const ops[8] = {op_add, op_sub, op_xor, op_mul, op_rotl, op_min, op_avg, op_hash};

typedef struct Shape Shape;
typedef struct {
    int64_t (*area)(const Shape *);
    int64_t (*perimeter)(const Shape *);
    void (*grow)(Shape *, int32_t);
} ShapeVT;

struct Shape {
    const ShapeVT *vt;
    int32_t a, b;
};

static int64_t rect_area(const Shape *s) { return (int64_t)s->a * s->b; }
static int64_t rect_perim(const Shape *s) { return 2 * ((int64_t)s->a + s->b); }
static void rect_grow(Shape *s, int32_t d) { s->a += d; s->b -= d / 2; }
static int64_t tri_area(const Shape *s) { return (int64_t)s->a * s->b / 2; }
static int64_t tri_perim(const Shape *s) { return (int64_t)s->a + s->b + (s->a > s->b ? s->a : s->b); }
static void tri_grow(Shape *s, int32_t d) { s->b += d; }
static int64_t sq_area(const Shape *s) { return (int64_t)s->a * s->a; }
static int64_t sq_perim(const Shape *s) { return 4 * (int64_t)s->a; }
static void sq_grow(Shape *s, int32_t d) { s->a = (s->a + d) & 0xfff; }

static const ShapeVT rect_vt = {rect_area, rect_perim, rect_grow};
static const ShapeVT tri_vt = {tri_area, tri_perim, tri_grow};
static const ShapeVT sq_vt = {sq_area, sq_perim, sq_grow};

#define NSHAPES 1024

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 16;
    uint32_t x = 0x12345u, acc = 7;
    int n = 3000000 * scale;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        acc = ops[(x >> 28) & 7](acc, x >> 7);
    }

    static Shape shapes[NSHAPES];
    const ShapeVT *vts[3] = {&rect_vt, &tri_vt, &sq_vt};
    for (int i = 0; i < NSHAPES; i++) {
        x = x * 1103515245u + 12345u;
        shapes[i].vt = vts[(x >> 20) % 3];
        shapes[i].a = 1 + (int32_t)((x >> 8) & 255);
        shapes[i].b = 1 + (int32_t)((x >> 16) & 255);
    }
    int64_t total = 0;
    for (int round = 0; round < 600 * scale; round++) {
        for (int i = 0; i < NSHAPES; i++) {
            Shape *s = &shapes[i];
            total += s->vt->area(s) - s->vt->perimeter(s);
            if (((i + round) & 15) == 0) s->vt->grow(s, (round & 7) - 3);
        }
    }
    printf("ops acc %08x, shapes total %lld\n", acc, (long long)total);
    printf("checksum: %08x\n", acc ^ (uint32_t)total ^ (uint32_t)((uint64_t)total >> 32));
    return 0;
}
