// observed.c: a process tree with known activity, for `isle ps`, `isle
// inspect` and `isle logs` (cmd/isle/control_test.go). Grants: "log" and
// "spawner" (this module, as "observed").
//   observed main: spawns a linked child and a monitored one, each given a
//     handle to main, queues 5 messages of tag 9 to itself that it never
//     takes, waits for both children's tag 10, logs "ready", then logs
//     "child down" for every DOWN signal.
//   a child: monitors main, sends it tag 10, and waits for ever.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2 -I sdk/c
#include <string.h>
#include "isle.h"

static void say(const char *msg) {
	isle_log_write(isle_grant_str("log"), 0, msg, strlen(msg));
}

static void child(void) {
	isle_info_t info;
	isle_handle_t parent;
	isle_recv(NULL, 0, ISLE_TAG_INIT, ~0u, ISLE_FOREVER, &info);
	isle_msg_handles(&parent, 1);
	isle_monitor(parent);
	isle_send_bytes(parent, 10, "", 0);
	isle_recv(NULL, 0, 0x77, ~0u, ISLE_FOREVER, &info); // never sent
}

int main(int argc, char **argv) {
	if (argc < 2 || strcmp(argv[1], "main")) {
		child();
		return 0;
	}
	// A handle given in a spawn moves to the child; isle_self mints
	// another.
	isle_handle_t spawner = isle_grant_str("spawner"), self = isle_self();
	isle_spawn(spawner, "observed", 8, "", 0, &self, 1, ISLE_SPAWN_LINK);
	self = isle_self();
	isle_handle_t watched = isle_spawn(spawner, "observed", 8, "", 0, &self, 1, 0);
	isle_monitor(watched);
	self = isle_self();
	for (int i = 0; i < 5; i++) isle_send_bytes(self, 9, "", 0);
	for (int i = 0; i < 2; i++) {
		isle_info_t info;
		isle_recv(NULL, 0, 10, ~0u, ISLE_FOREVER, &info);
	}
	say("ready");
	for (;;) {
		isle_info_t info;
		isle_recv(NULL, 0, ISLE_TAG_DOWN, ~0u, ISLE_FOREVER, &info);
		say("child down");
	}
}
