// chainmain.c: starts a call chain of three processes, a -> b -> c, from
// the modules "relay" (a and c, reactors) and "relaycmd" (b, a command),
// calls a with tag 1, and prints the answer's tag ("answer 103").
// Built by internal/testwasm: clang --target=wasm32-wasi -O2 -I sdk/c
//   chainmain.c
#include <stdio.h>
#include "isle.h"

int main(void) {
	isle_handle_t sp = isle_grant_str("spawner");
	isle_handle_t c = isle_spawn(sp, "relay", 5, NULL, 0, NULL, 0, 0);
	isle_handle_t b = isle_spawn(sp, "relaycmd", 8, NULL, 0, &c, 1, 0);
	isle_handle_t a = isle_spawn(sp, "relay", 5, NULL, 0, &b, 1, 0);
	if (a < 0 || b < 0 || c < 0) {
		fprintf(stderr, "spawn failed: %d %d %d\n", a, b, c);
		return 1;
	}
	isle_info_t info;
	char buf[16];
	if (isle_call(a, 1, "go", 2, NULL, 0, buf, sizeof buf, -1, &info) < 0) {
		fprintf(stderr, "call failed\n");
		return 1;
	}
	printf("answer %u\n", info.tag);
	return 0;
}
