/* SIMD kernels, built for wasm with -msimd128 and written with the
 * wasm_simd128.h intrinsics. Natively (and anywhere without wasm SIMD) the
 * same kernels run as scalar code arranged to give bit-identical results:
 *   - f32 dot product with four lane accumulators
 *   - u8 alpha blend through 16-bit lanes
 *   - byte counting with lane compares and pairwise widening adds
 *   - i16 3-tap filter with wrapping arithmetic */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define N 65536

static uint32_t st = 0x0badcafeu;
static uint32_t rnd(void) {
    st ^= st << 13;
    st ^= st >> 17;
    st ^= st << 5;
    return st;
}

static float dot(const float *x, const float *y, int n) {
#ifdef __wasm_simd128__
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < n; i += 4)
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(x + i), wasm_v128_load(y + i)));
    float l0 = wasm_f32x4_extract_lane(acc, 0), l1 = wasm_f32x4_extract_lane(acc, 1);
    float l2 = wasm_f32x4_extract_lane(acc, 2), l3 = wasm_f32x4_extract_lane(acc, 3);
#else
    float l0 = 0, l1 = 0, l2 = 0, l3 = 0;
    for (int i = 0; i < n; i += 4) {
        l0 = l0 + x[i] * y[i];
        l1 = l1 + x[i + 1] * y[i + 1];
        l2 = l2 + x[i + 2] * y[i + 2];
        l3 = l3 + x[i + 3] * y[i + 3];
    }
#endif
    return (l0 + l1) + (l2 + l3);
}

/* out = (a*alpha + b*(255-alpha) + 128) >> 8, per byte */
static void blend(uint8_t *out, const uint8_t *a, const uint8_t *b, uint8_t alpha, int n) {
#ifdef __wasm_simd128__
    v128_t al = wasm_i16x8_splat(alpha), inv = wasm_i16x8_splat(255 - alpha);
    v128_t half = wasm_i16x8_splat(128);
    for (int i = 0; i < n; i += 16) {
        v128_t va = wasm_v128_load(a + i), vb = wasm_v128_load(b + i);
        v128_t lo = wasm_i16x8_add(wasm_i16x8_add(wasm_i16x8_mul(wasm_u16x8_extend_low_u8x16(va), al),
                                                  wasm_i16x8_mul(wasm_u16x8_extend_low_u8x16(vb), inv)),
                                   half);
        v128_t hi = wasm_i16x8_add(wasm_i16x8_add(wasm_i16x8_mul(wasm_u16x8_extend_high_u8x16(va), al),
                                                  wasm_i16x8_mul(wasm_u16x8_extend_high_u8x16(vb), inv)),
                                   half);
        wasm_v128_store(out + i, wasm_u8x16_narrow_i16x8(wasm_u16x8_shr(lo, 8), wasm_u16x8_shr(hi, 8)));
    }
#else
    for (int i = 0; i < n; i++) out[i] = (uint8_t)((a[i] * alpha + b[i] * (255 - alpha) + 128) >> 8);
#endif
}

/* number of bytes equal to key */
static uint32_t count_byte(const uint8_t *p, int n, uint8_t key) {
#ifdef __wasm_simd128__
    v128_t k = wasm_i8x16_splat((int8_t)key);
    v128_t total = wasm_i32x4_splat(0);
    int i = 0;
    while (i < n) {
        v128_t c8 = wasm_i8x16_splat(0);
        int end = i + 16 * 255 < n ? i + 16 * 255 : n;
        for (; i < end; i += 16) c8 = wasm_i8x16_sub(c8, wasm_i8x16_eq(wasm_v128_load(p + i), k));
        total = wasm_i32x4_add(total, wasm_u32x4_extadd_pairwise_u16x8(wasm_u16x8_extadd_pairwise_u8x16(c8)));
    }
    return (uint32_t)(wasm_i32x4_extract_lane(total, 0) + wasm_i32x4_extract_lane(total, 1) +
                      wasm_i32x4_extract_lane(total, 2) + wasm_i32x4_extract_lane(total, 3));
#else
    uint32_t c = 0;
    for (int i = 0; i < n; i++) c += p[i] == key;
    return c;
#endif
}

/* out[i] = in[i-1]*c0 + in[i]*c1 + in[i+1]*c2, wrapping 16-bit; 1 <= i < n-1 */
static void filter3(int16_t *out, const int16_t *in, int n, int16_t c0, int16_t c1, int16_t c2) {
    int i = 1;
#ifdef __wasm_simd128__
    v128_t k0 = wasm_i16x8_splat(c0), k1 = wasm_i16x8_splat(c1), k2 = wasm_i16x8_splat(c2);
    for (; i + 8 < n; i += 8) {
        v128_t s = wasm_i16x8_add(wasm_i16x8_add(wasm_i16x8_mul(wasm_v128_load(in + i - 1), k0),
                                                 wasm_i16x8_mul(wasm_v128_load(in + i), k1)),
                                  wasm_i16x8_mul(wasm_v128_load(in + i + 1), k2));
        wasm_v128_store(out + i, s);
    }
#endif
    for (; i < n - 1; i++)
        out[i] = (int16_t)(uint16_t)((uint32_t)(uint16_t)in[i - 1] * (uint16_t)c0 +
                                     (uint32_t)(uint16_t)in[i] * (uint16_t)c1 +
                                     (uint32_t)(uint16_t)in[i + 1] * (uint16_t)c2);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3000;
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    uint8_t *a = malloc(N), *b = malloc(N), *o = malloc(N);
    int16_t *s = malloc(N * sizeof(int16_t)), *t = malloc(N * sizeof(int16_t));
    for (int i = 0; i < N; i++) {
        x[i] = (float)(rnd() % 2000) / 1000.0f - 1.0f;
        y[i] = (float)(rnd() % 2000) / 1000.0f - 1.0f;
        a[i] = (uint8_t)rnd();
        b[i] = (uint8_t)(i * 3);
        s[i] = (int16_t)(rnd() & 0xffff);
    }
    t[0] = s[0];
    t[N - 1] = s[N - 1];
    double dsum = 0;
    uint32_t bytes = 0, fh = 0;
    for (int r = 0; r < reps; r++) {
        float d = dot(x, y, N);
        dsum += d;
        x[r & (N - 1)] = d * 0.001f; /* feed back so reps differ */
        blend(o, a, b, (uint8_t)(r * 37), N);
        bytes += count_byte(o, N, (uint8_t)r);
        memcpy(a, o, N);
        filter3(t, s, N, (int16_t)(3 + (r & 3)), -2, 1);
        fh = fh * 31 + (uint16_t)t[(r * 977) & (N - 1)];
        int16_t *tmp = s; s = t; t = tmp;
    }
    uint32_t oh = 0;
    for (int i = 0; i < N; i++) oh = oh * 33 + o[i] + (uint16_t)s[i];
    printf("dot sum %.6e, matching bytes %u, filter hash %08x, image hash %08x\n", dsum, bytes, fh, oh);
    printf("checksum: %08x %.6e\n", bytes ^ fh ^ oh, dsum);
    free(x); free(y); free(a); free(b); free(o); free(s); free(t);
    return 0;
}
