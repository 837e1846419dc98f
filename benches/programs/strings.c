/* String processing: generate text, tokenize it, count words in a
 * hash table keyed by string, search with strstr, format with snprintf and
 * parse back with strtol, and reverse/compare lines. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t st = 0x1badf00du;
static uint32_t rnd(void) {
    st ^= st << 13;
    st ^= st >> 17;
    st ^= st << 5;
    return st;
}

static const char *syll[] = {"ka", "ro", "min", "te", "su", "lo", "var", "qui", "ne", "bo",
                             "tra", "el", "zu", "po", "ix", "dan"};

#define TABLE 65536
typedef struct {
    char *word;
    uint32_t count;
} Entry;
static Entry table[TABLE];

static uint32_t hash_str(const char *s) {
    uint32_t h = 5381;
    while (*s) h = h * 33 ^ (uint8_t)*s++;
    return h;
}

static void count_word(const char *w) {
    uint32_t i = hash_str(w) & (TABLE - 1);
    while (table[i].word) {
        if (strcmp(table[i].word, w) == 0) {
            table[i].count++;
            return;
        }
        i = (i + 1) & (TABLE - 1);
    }
    size_t n = strlen(w);
    table[i].word = malloc(n + 1);
    memcpy(table[i].word, w, n + 1);
    table[i].count = 1;
}

static char *make_text(size_t target) {
    char *t = malloc(target + 64);
    size_t len = 0;
    int words_in_line = 0;
    while (len < target) {
        int ns = 1 + (int)(rnd() % 3);
        if (rnd() % 9 == 0) t[len++] = (char)('A' + rnd() % 26);
        for (int s = 0; s < ns; s++) {
            const char *p = syll[rnd() % 16];
            size_t pl = strlen(p);
            memcpy(t + len, p, pl);
            len += pl;
        }
        uint32_t r = rnd() % 20;
        if (r == 0) t[len++] = ',';
        else if (r == 1) t[len++] = '.';
        if (++words_in_line >= 12) {
            t[len++] = '\n';
            words_in_line = 0;
        } else {
            t[len++] = ' ';
        }
    }
    t[len] = 0;
    return t;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 10;
    char *text = make_text((size_t)scale * 600000);
    size_t text_len = strlen(text);
    uint32_t check = 0;

    /* 1. tokenize + lower-case + count */
    char *copy = malloc(text_len + 1);
    memcpy(copy, text, text_len + 1);
    size_t nwords = 0;
    /* (a hand-written splitter: the strtok of some libcs rescans the whole
       rest of the string on every call, which would make this quadratic) */
    static uint8_t is_sep[256];
    is_sep[' '] = is_sep[','] = is_sep['.'] = is_sep['\n'] = is_sep[0] = 1;
    for (char *c = copy; *c;) {
        while (*c && is_sep[(uint8_t)*c]) c++;
        if (!*c) break;
        char *tok = c;
        while (!is_sep[(uint8_t)*c]) {
            *c = (char)tolower((unsigned char)*c);
            c++;
        }
        int at_end = *c == 0;
        *c = 0;
        count_word(tok);
        nwords++;
        if (at_end) break;
        c++;
    }
    uint32_t distinct = 0, best = 0;
    const char *best_word = "";
    for (int i = 0; i < TABLE; i++) {
        if (!table[i].word) continue;
        distinct++;
        if (table[i].count > best || (table[i].count == best && strcmp(table[i].word, best_word) < 0)) {
            best = table[i].count;
            best_word = table[i].word;
        }
        check += table[i].count * hash_str(table[i].word);
    }

    /* 2. format and parse back */
    char line[128];
    uint64_t parsed = 0;
    for (int i = 0; i < 60000 * scale; i++) {
        int n = snprintf(line, sizeof line, "%d:%x:%s;%u", i, (unsigned)i * 2654435761u,
                         syll[i & 15], (unsigned)(i % 977));
        char *end;
        long long a = strtoll(line, &end, 10);
        unsigned long long b = strtoull(end + 1, &end, 16);
        char *semi = strchr(end, ';');
        long long c = strtoll(semi + 1, NULL, 10);
        parsed += (uint64_t)a + (uint64_t)(b & 0xffff) + (uint64_t)c + (uint64_t)n;
    }

    /* 3. line by line: substring search, reverse in place, compare with the
       previous line (lines are split by hand so every libc call sees a short
       string) */
    uint32_t hits = 0, order = 0;
    const char *needles[] = {"kamin", "quine", "dantra", "zupo", "elix"};
    char *prev = NULL;
    for (char *ln = text; *ln;) {
        char *nl = ln;
        while (*nl && *nl != '\n') nl++;
        if (!*nl) break;
        *nl = 0;
        for (int k = 0; k < 5; k++) {
            const char *p = ln;
            while ((p = strstr(p, needles[k])) != NULL) {
                hits++;
                p += 1;
            }
        }
        size_t L = strlen(ln);
        for (size_t i = 0; i < L / 2; i++) {
            char t = ln[i];
            ln[i] = ln[L - 1 - i];
            ln[L - 1 - i] = t;
        }
        if (prev) order = order * 3 + (uint32_t)(strcmp(prev, ln) < 0 ? 1 : 2);
        prev = ln;
        ln = nl + 1;
    }

    printf("%zu bytes, %zu words, %u distinct, top '%s' x%u\n", text_len, nwords, distinct, best_word, best);
    printf("needle hits %u, parsed sum %llu, order hash %08x\n", hits, (unsigned long long)parsed, order);
    printf("checksum: %08x\n", check ^ hits * 7919u ^ (uint32_t)parsed ^ order);
    for (int i = 0; i < TABLE; i++) free(table[i].word);
    free(copy);
    free(text);
    return 0;
}
