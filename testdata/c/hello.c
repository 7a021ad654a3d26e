// hello.c: an ordinary C program written for no runtime in particular.
// It reads a file named on the command line, counts its lines and words,
// writes a summary next to it, and prints to stdout.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2 hello.c
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
	printf("hello from C, argc=%d\n", argc);
	if (argc < 3) return 0;
	FILE *in = fopen(argv[1], "r");
	if (!in) { perror(argv[1]); return 3; }
	long lines = 0, words = 0;
	int c, inword = 0;
	while ((c = fgetc(in)) != EOF) {
		if (c == '\n') lines++;
		if (isspace(c)) inword = 0;
		else if (!inword) { inword = 1; words++; }
	}
	fclose(in);
	FILE *out = fopen(argv[2], "w");
	if (!out) { perror(argv[2]); return 4; }
	fprintf(out, "lines=%ld words=%ld\n", lines, words);
	fclose(out);
	printf("lines=%ld words=%ld\n", lines, words);
	return 0;
}
