// xnode.c: the cluster workload's reactors, one role each, reaching a
// process on another node through the grant "peer" (an isle.Remote).
//   echo:    answers TAG_ECHO with its payload.
//   tripper: TAG_TRIPS n calls peer TAG_ECHO n times (16 bytes), timing
//            each with the grant "clock", and answers the n times in ns.
//   sender:  TAG_GO (n, batch) sends peer n 8-byte TAG_DATA messages, a
//            batch per turn, then a TAG_MORE to itself to carry on.
//   sink:    counts TAG_DATA; TAG_EXPECT n answers once n have come in all.
//   watcher: TAG_WATCH monitors peer; TAG_WAIT answers once it is DOWN.
#include "common.h"
#include "isle_services.h"

#define TAG_ECHO 1
#define TAG_TRIPS 2
#define TAG_GO 3
#define TAG_MORE 4
#define TAG_DATA 5
#define TAG_EXPECT 6
#define TAG_WATCH 7
#define TAG_WAIT 8
#define TAG_FAILED 99 // an answer carrying the failing call's rc
#define MAX_TRIPS 4096

static uint32_t times[MAX_TRIPS];
static uint32_t answer[4];
static isle_handle_t peer, self, waiting;
static int have_peer, have_waiting, down;
static uint32_t left, batch, count, expect;

static isle_handle_t get_peer(void) {
	if (!have_peer) {
		peer = isle_grant_str("peer");
		have_peer = 1;
	}
	return peer;
}

static void failed(uint32_t aux, int32_t rc) {
	isle_reply(aux, TAG_FAILED, &rc, 4, NULL, 0);
}

static void trips(uint32_t aux, uint32_t n) {
	isle_handle_t clk = isle_grant_str("clock");
	uint32_t payload[4] = {1, 2, 3, 4};
	isle_info_t info;
	if (n > MAX_TRIPS) n = MAX_TRIPS;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t0, t1;
		isle_clock_now(clk, ISLE_CLOCK_MONOTONIC, &t0);
		int32_t rc = isle_call(get_peer(), TAG_ECHO, payload, sizeof payload, NULL, 0, answer, sizeof answer,
		                       ISLE_FOREVER, &info);
		isle_clock_now(clk, ISLE_CLOCK_MONOTONIC, &t1);
		if (rc < 0) {
			failed(aux, rc);
			return;
		}
		times[i] = (uint32_t)(t1 - t0);
	}
	isle_reply(aux, TAG_TRIPS, times, n * 4, NULL, 0);
}

static void send_batch(void) {
	uint32_t n = left < batch ? left : batch;
	uint32_t data[2] = {left, 0};
	for (uint32_t i = 0; i < n; i++) {
		if (isle_send(get_peer(), TAG_DATA, data, sizeof data, NULL, 0, 0) < 0) return;
	}
	left -= n;
	if (left > 0) isle_send(self, TAG_MORE, NULL, 0, NULL, 0, 0);
}

static void wake(void) {
	if (have_waiting) {
		isle_reply(waiting, 0, &count, 4, NULL, 0);
		have_waiting = 0;
	}
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	first_turn(len);
	switch (tag) {
	case TAG_ECHO:
		isle_reply(aux, tag, in, len < sizeof in ? len : sizeof in, NULL, 0);
		return;
	case TAG_TRIPS:
		trips(aux, in[0]);
		return;
	case TAG_GO:
		left = in[0];
		batch = in[1] ? in[1] : 1;
		self = isle_self();
		send_batch();
		return;
	case TAG_MORE:
		send_batch();
		return;
	case TAG_DATA:
		if (++count >= expect) wake();
		return;
	case TAG_EXPECT:
		expect = in[0];
		waiting = aux;
		have_waiting = 1;
		if (count >= expect) wake();
		return;
	case TAG_WATCH: {
		int32_t rc = isle_monitor(get_peer());
		isle_reply(aux, TAG_WATCH, &rc, 4, NULL, 0);
		return;
	}
	case ISLE_TAG_DOWN:
		down = 1;
		wake();
		return;
	case TAG_WAIT:
		waiting = aux;
		have_waiting = 1;
		if (down) wake();
		return;
	}
}
