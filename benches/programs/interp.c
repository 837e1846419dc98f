/* A bytecode interpreter with switch dispatch: a small stack machine with
 * local slots runs a prime-counting program and a hashing loop written in
 * its own bytecode. Tests the runtime's handling of a hot br_table loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    OP_HALT, OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_SUB, OP_MUL, OP_MOD,
    OP_AND, OP_XOR, OP_SHL, OP_SHR, OP_LT, OP_LE, OP_EQ, OP_JMP, OP_JZ,
    OP_JNZ, OP_DUP, OP_POP, OP_INC
};

typedef struct {
    int32_t code[512];
    int len;
    int label_pos[32];
    int fixup_at[64];
    int fixup_label[64];
    int nfixups;
} Asm;

static void emit(Asm *a, int32_t v) { a->code[a->len++] = v; }
static void emit2(Asm *a, int32_t op, int32_t arg) { emit(a, op); emit(a, arg); }
static void label(Asm *a, int l) { a->label_pos[l] = a->len; }
static void jump(Asm *a, int32_t op, int l) {
    emit(a, op);
    a->fixup_at[a->nfixups] = a->len;
    a->fixup_label[a->nfixups++] = l;
    emit(a, 0);
}
static void resolve(Asm *a) {
    for (int i = 0; i < a->nfixups; i++) a->code[a->fixup_at[i]] = a->label_pos[a->fixup_label[i]];
}

static int64_t run(const int32_t *code, int32_t *locals) {
    int32_t stack[64];
    int sp = 0;
    int pc = 0;
    int64_t executed = 0;
    for (;;) {
        int32_t op = code[pc++];
        executed++;
        switch (op) {
        case OP_HALT: return executed;
        case OP_PUSH: stack[sp++] = code[pc++]; break;
        case OP_LOAD: stack[sp++] = locals[code[pc++]]; break;
        case OP_STORE: locals[code[pc++]] = stack[--sp]; break;
        case OP_ADD: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] + (uint32_t)stack[sp]); break;
        case OP_SUB: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] - (uint32_t)stack[sp]); break;
        case OP_MUL: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] * (uint32_t)stack[sp]); break;
        case OP_MOD: sp--; stack[sp - 1] = stack[sp - 1] % stack[sp]; break;
        case OP_AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case OP_XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
        case OP_SHL: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] << (stack[sp] & 31)); break;
        case OP_SHR: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] >> (stack[sp] & 31)); break;
        case OP_LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case OP_LE: sp--; stack[sp - 1] = stack[sp - 1] <= stack[sp]; break;
        case OP_EQ: sp--; stack[sp - 1] = stack[sp - 1] == stack[sp]; break;
        case OP_JMP: pc = code[pc]; break;
        case OP_JZ: pc = stack[--sp] == 0 ? code[pc] : pc + 1; break;
        case OP_JNZ: pc = stack[--sp] != 0 ? code[pc] : pc + 1; break;
        case OP_DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case OP_POP: sp--; break;
        case OP_INC: locals[code[pc]] += 1; pc++; break;
        default:
            printf("bad opcode %d at %d\n", op, pc - 1);
            exit(1);
        }
    }
}

/* locals: 0 = n, 1 = count, 2 = i, 3 = d, 4 = isprime, 5 = hash */
static void assemble_primes(Asm *a) {
    enum { OUTER, INNER, NOT_PRIME, AFTER, END };
    emit2(a, OP_PUSH, 2); emit2(a, OP_STORE, 2);
    label(a, OUTER);
    emit2(a, OP_LOAD, 2); emit2(a, OP_LOAD, 0); emit(a, OP_LT); jump(a, OP_JZ, END);
    emit2(a, OP_PUSH, 2); emit2(a, OP_STORE, 3);
    emit2(a, OP_PUSH, 1); emit2(a, OP_STORE, 4);
    label(a, INNER);
    emit2(a, OP_LOAD, 3); emit(a, OP_DUP); emit(a, OP_MUL); emit2(a, OP_LOAD, 2); emit(a, OP_LE);
    jump(a, OP_JZ, AFTER);
    emit2(a, OP_LOAD, 2); emit2(a, OP_LOAD, 3); emit(a, OP_MOD); jump(a, OP_JZ, NOT_PRIME);
    emit2(a, OP_INC, 3);
    jump(a, OP_JMP, INNER);
    label(a, NOT_PRIME);
    emit2(a, OP_PUSH, 0); emit2(a, OP_STORE, 4);
    label(a, AFTER);
    emit2(a, OP_LOAD, 1); emit2(a, OP_LOAD, 4); emit(a, OP_ADD); emit2(a, OP_STORE, 1);
    /* hash = ((hash << 5) ^ (hash >> 3) ^ (i * isprime)) & 0xffffff */
    emit2(a, OP_LOAD, 5); emit2(a, OP_PUSH, 5); emit(a, OP_SHL);
    emit2(a, OP_LOAD, 5); emit2(a, OP_PUSH, 3); emit(a, OP_SHR); emit(a, OP_XOR);
    emit2(a, OP_LOAD, 2); emit2(a, OP_LOAD, 4); emit(a, OP_MUL); emit(a, OP_XOR);
    emit2(a, OP_PUSH, 0xffffff); emit(a, OP_AND); emit2(a, OP_STORE, 5);
    emit2(a, OP_INC, 2);
    jump(a, OP_JMP, OUTER);
    label(a, END);
    emit(a, OP_HALT);
    resolve(a);
}

/* locals: 0 = n, 1 = acc, 2 = i, 3 = x; an LCG-driven mixing loop */
static void assemble_mix(Asm *a) {
    enum { LOOP, END };
    emit2(a, OP_PUSH, 0); emit2(a, OP_STORE, 2);
    emit2(a, OP_PUSH, 12345); emit2(a, OP_STORE, 3);
    label(a, LOOP);
    emit2(a, OP_LOAD, 2); emit2(a, OP_LOAD, 0); emit(a, OP_LT); jump(a, OP_JZ, END);
    emit2(a, OP_LOAD, 3); emit2(a, OP_PUSH, 1103515245); emit(a, OP_MUL);
    emit2(a, OP_PUSH, 12345); emit(a, OP_ADD); emit(a, OP_DUP); emit2(a, OP_STORE, 3);
    emit2(a, OP_PUSH, 16); emit(a, OP_SHR);
    emit2(a, OP_LOAD, 1); emit(a, OP_XOR); emit2(a, OP_PUSH, 1); emit(a, OP_SHL);
    emit2(a, OP_LOAD, 2); emit(a, OP_SUB); emit2(a, OP_STORE, 1);
    emit2(a, OP_INC, 2);
    jump(a, OP_JMP, LOOP);
    label(a, END);
    emit(a, OP_HALT);
    resolve(a);
}

int main(int argc, char **argv) {
    int32_t scale = argc > 1 ? atoi(argv[1]) : 3;
    static Asm primes, mix;
    assemble_primes(&primes);
    assemble_mix(&mix);

    int32_t pl[8] = {0};
    pl[0] = 60000 * scale;
    int64_t steps1 = run(primes.code, pl);

    int32_t ml[8] = {0};
    ml[0] = 1000000 * scale;
    int64_t steps2 = run(mix.code, ml);

    printf("primes below %d: %d (hash %06x)\n", pl[0], pl[1], (unsigned)pl[5]);
    printf("mix: %08x\n", (unsigned)ml[1]);
    printf("instructions executed: %lld\n", (long long)(steps1 + steps2));
    printf("checksum: %08x\n", (unsigned)pl[1] * 2654435761u ^ (unsigned)pl[5] ^ (unsigned)ml[1]);
    return 0;
}
