// tput.c: throughput of many senders into one sink, all reactors of this
// module. The host calls the sink (tag 1, payload: senders, messages per
// sender, batch). The sink spawns senders as needed, passing its own
// handle, and tells each to go. A sender sends a batch of 4-byte messages
// per turn and then a message to itself to carry on, so that it yields
// between batches as a reactor should. The sink answers the call when it
// has counted every message.
#include "common.h"

#define TAG_RUN 1
#define TAG_GO 2
#define TAG_MORE 3
#define TAG_DATA 4
#define MAX_SENDERS 64

static isle_handle_t sink, waiting, self;
static isle_handle_t senders[MAX_SENDERS];
static uint32_t nsenders, expect, got;
static uint32_t left, batch;

static void send_batch(void) {
	uint32_t n = left < batch ? left : batch;
	for (uint32_t i = 0; i < n; i++) isle_send(sink, TAG_DATA, &left, 4, NULL, 0, 0);
	left -= n;
	if (left > 0) isle_send(self, TAG_MORE, NULL, 0, NULL, 0, 0);
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	first_turn(len);
	switch (tag) {
	case TAG_DATA: // sink
		if (++got == expect) isle_reply(waiting, TAG_RUN, &got, 4, NULL, 0);
		return;
	case TAG_MORE: // sender
		send_batch();
		return;
	case TAG_RUN: { // sink: the host's call
		uint32_t want = in[0] < MAX_SENDERS ? in[0] : MAX_SENDERS;
		uint32_t go[2] = {in[1], in[2]};
		waiting = aux;
		got = 0;
		expect = want * go[0];
		while (nsenders < want) {
			isle_handle_t me = isle_self();
			senders[nsenders++] = isle_spawn(isle_grant_str("spawner"), "tput", 4, NULL, 0, &me, 1, 0);
		}
		for (uint32_t i = 0; i < want; i++) isle_send(senders[i], TAG_GO, go, sizeof go, NULL, 0, 0);
		return;
	}
	case ISLE_TAG_INIT: // sender: remember the sink
		isle_msg_handles(&sink, 1);
		self = isle_self();
		return;
	case TAG_GO: // sender
		left = in[0];
		batch = in[1] ? in[1] : 1;
		send_batch();
		return;
	}
}
