// true.c: the smallest useful command, for the startup benchmark. The same
// source builds the native twin that fork+exec runs beside it.
int main(void) { return 0; }
