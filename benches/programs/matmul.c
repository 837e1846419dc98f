/* Floating point: dense matrix multiply (double, i-k-j loop order) repeated
 * with the result fed back in, plus a single-precision pass. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t seed = 1u;
static uint32_t next(void) {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 9;
}

static void matmul_d(int n, const double *a, const double *b, double *c) {
    for (int i = 0; i < n * n; i++) c[i] = 0.0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < n; k++) {
            double aik = a[i * n + k];
            const double *brow = b + k * n;
            double *crow = c + i * n;
            for (int j = 0; j < n; j++) crow[j] += aik * brow[j];
        }
    }
}

static void matmul_f(int n, const float *a, const float *b, float *c) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
            c[i * n + j] = s;
        }
    }
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 400;
    int reps = 6;
    double *a = malloc(sizeof(double) * n * n);
    double *b = malloc(sizeof(double) * n * n);
    double *c = malloc(sizeof(double) * n * n);
    float *fa = malloc(sizeof(float) * n * n);
    float *fb = malloc(sizeof(float) * n * n);
    float *fc = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) {
        a[i] = (double)(next() % 2001) / 1000.0 - 1.0;
        b[i] = (double)(next() % 2001) / 1000.0 - 1.0;
        fa[i] = (float)a[i];
        fb[i] = (float)b[i];
    }
    for (int r = 0; r < reps; r++) {
        matmul_d(n, a, b, c);
        /* normalise and feed back so repetitions cannot be skipped */
        double maxv = 0.0;
        for (int i = 0; i < n * n; i++) {
            double v = c[i] < 0 ? -c[i] : c[i];
            if (v > maxv) maxv = v;
        }
        for (int i = 0; i < n * n; i++) a[i] = c[i] / maxv;
    }
    matmul_f(n, fa, fb, fc);
    double sum = 0.0, fsum = 0.0;
    for (int i = 0; i < n * n; i++) {
        sum += c[i] * (double)((i % 7) + 1);
        fsum += (double)fc[i];
    }
    printf("n = %d, double trace-weighted sum %.9e\n", n, sum);
    printf("float sum %.6e\n", fsum);
    printf("checksum: %.9e\n", sum + fsum);
    free(a); free(b); free(c); free(fa); free(fb); free(fc);
    return 0;
}
