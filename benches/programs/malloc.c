/* Memory-heavy: malloc/free/realloc churn with a mix of object sizes,
 * keeping a bounded live set and a singly linked list that is rebuilt. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8192

static uint32_t st = 0x2545f491u;
static uint32_t rnd(void) {
    st ^= st << 13;
    st ^= st >> 17;
    st ^= st << 5;
    return st;
}

typedef struct Node {
    struct Node *next;
    uint32_t value;
    uint32_t pad[5];
} Node;

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 8000000;
    static uint8_t *slot[SLOTS];
    static uint32_t size[SLOTS];
    uint64_t acc = 0;

    for (int i = 0; i < iters; i++) {
        uint32_t r = rnd();
        uint32_t k = r % SLOTS;
        if (slot[k]) {
            /* verify the pattern written at allocation, then release */
            acc += slot[k][0] + slot[k][size[k] - 1];
            if ((r >> 20) % 7 == 0) {
                uint32_t ns = size[k] * 2 + 1;
                slot[k] = realloc(slot[k], ns);
                memset(slot[k] + size[k], 0x5a, ns - size[k]);
                size[k] = ns;
                acc += slot[k][ns - 1];
            } else {
                free(slot[k]);
                slot[k] = NULL;
            }
        } else {
            uint32_t sz;
            uint32_t c = (r >> 13) % 100;
            if (c < 60) sz = 8 + (r >> 16) % 56;
            else if (c < 95) sz = 64 + (r >> 16) % 960;
            else sz = 1024 + (r >> 16) % 15360;
            slot[k] = malloc(sz);
            size[k] = sz;
            slot[k][0] = (uint8_t)i;
            slot[k][sz - 1] = (uint8_t)(i >> 3);
            if (sz > 2) slot[k][sz / 2] = (uint8_t)k;
        }
        if ((i & 0xffff) == 0) {
            /* build and tear down a list of small nodes */
            Node *head = NULL;
            for (int j = 0; j < 20000; j++) {
                Node *nd = malloc(sizeof *nd);
                nd->value = (uint32_t)j * 2654435761u;
                nd->next = head;
                head = nd;
            }
            while (head) {
                Node *nx = head->next;
                acc += head->value >> 28;
                free(head);
                head = nx;
            }
        }
    }
    uint32_t live = 0;
    for (int k = 0; k < SLOTS; k++) {
        if (slot[k]) {
            live++;
            acc += slot[k][size[k] / 2];
            free(slot[k]);
        }
    }
    printf("iterations %d, live at end %u, sum %llu\n", iters, live, (unsigned long long)acc);
    printf("checksum: %08x\n", (uint32_t)acc ^ (uint32_t)(acc >> 32) ^ live);
    return 0;
}
