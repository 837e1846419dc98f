/* Floating point: gravitational N-body simulation with a leapfrog
 * (kick-drift-kick) integrator over a deterministic, self-generated system.
 * Only +, -, *, / and sqrt are used, so every IEEE-754 runtime must agree
 * bit for bit with native code. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NBODIES 12

typedef struct {
    double x, y, z;
    double vx, vy, vz;
    double m;
} Body;

static uint32_t rng_state = 2463534242u;
static double rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (double)(rng_state >> 8) / 16777216.0; /* [0, 1) with 24 bits */
}

static void setup(Body *b) {
    b[0] = (Body){0, 0, 0, 0, 0, 0, 1000.0};
    for (int i = 1; i < NBODIES; i++) {
        double r = 5.0 + 3.0 * i + rnd();
        double ang = rnd() * 6.0;
        /* crude circular orbit: rotate by a rational approximation */
        double c = 1.0 - ang * ang / 2.0 + ang * ang * ang * ang / 24.0;
        double s = ang - ang * ang * ang / 6.0;
        double norm = sqrt(c * c + s * s);
        c /= norm;
        s /= norm;
        double v = sqrt(1000.0 / r);
        b[i].x = r * c;
        b[i].y = r * s;
        b[i].z = (rnd() - 0.5) * 0.2;
        b[i].vx = -v * s;
        b[i].vy = v * c;
        b[i].vz = (rnd() - 0.5) * 0.01;
        b[i].m = 0.01 + rnd() * 0.5;
    }
    /* remove net momentum so the system stays centred */
    double px = 0, py = 0, pz = 0, mt = 0;
    for (int i = 0; i < NBODIES; i++) {
        px += b[i].vx * b[i].m;
        py += b[i].vy * b[i].m;
        pz += b[i].vz * b[i].m;
        mt += b[i].m;
    }
    for (int i = 0; i < NBODIES; i++) {
        b[i].vx -= px / mt;
        b[i].vy -= py / mt;
        b[i].vz -= pz / mt;
    }
}

static void kick(Body *b, double dt) {
    for (int i = 0; i < NBODIES; i++) {
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = b[i].x - b[j].x;
            double dy = b[i].y - b[j].y;
            double dz = b[i].z - b[j].z;
            double d2 = dx * dx + dy * dy + dz * dz + 1e-9;
            double d = sqrt(d2);
            double mag = dt / (d2 * d);
            b[i].vx -= dx * b[j].m * mag;
            b[i].vy -= dy * b[j].m * mag;
            b[i].vz -= dz * b[j].m * mag;
            b[j].vx += dx * b[i].m * mag;
            b[j].vy += dy * b[i].m * mag;
            b[j].vz += dz * b[i].m * mag;
        }
    }
}

static void drift(Body *b, double dt) {
    for (int i = 0; i < NBODIES; i++) {
        b[i].x += dt * b[i].vx;
        b[i].y += dt * b[i].vy;
        b[i].z += dt * b[i].vz;
    }
}

static double energy(const Body *b) {
    double e = 0;
    for (int i = 0; i < NBODIES; i++) {
        e += 0.5 * b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = b[i].x - b[j].x;
            double dy = b[i].y - b[j].y;
            double dz = b[i].z - b[j].z;
            e -= b[i].m * b[j].m / sqrt(dx * dx + dy * dy + dz * dz + 1e-9);
        }
    }
    return e;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 700000;
    static Body bodies[NBODIES];
    setup(bodies);
    double dt = 0.001;
    printf("energy before: %.12f\n", energy(bodies));
    kick(bodies, dt / 2);
    for (int s = 0; s < steps; s++) {
        drift(bodies, dt);
        kick(bodies, s + 1 < steps ? dt : dt / 2);
    }
    double e = energy(bodies);
    printf("energy after:  %.12f\n", e);
    double sx = 0;
    for (int i = 0; i < NBODIES; i++) sx += bodies[i].x + 2 * bodies[i].y + 3 * bodies[i].z;
    printf("checksum: %.9e\n", e + sx);
    return 0;
}
