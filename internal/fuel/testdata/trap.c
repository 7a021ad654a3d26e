// A C program that traps in a named function, for the DWARF trace test.
#include <stdio.h>

__attribute__((noinline)) static int checksum(const char *s) {
    int sum = 0;
    while (*s)
        sum = sum * 31 + *s++;
    return sum;
}

__attribute__((noinline)) void explode(int depth) {
    if (depth > 3)
        __builtin_trap(); // TRAP LINE
    printf("depth %d: %d\n", depth, checksum("isle"));
}

__attribute__((noinline)) void descend(int n) {
    for (int i = 0; i <= n; i++)
        explode(i); // CALL LINE
}

int main(void) {
    descend(10); // MAIN LINE
    return 0;
}
