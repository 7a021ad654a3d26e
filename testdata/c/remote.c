// remote.c: a reactor for the cluster tests. Each tag is one scenario,
// run against the grant "peer" (in the tests, a process on another node)
// or a handle a message brought, and answered with int32 results, so the
// host can check from outside what crossing nodes did.
// Built by internal/testwasm: clang --target=wasm32-wasi -O2
//   -mexec-model=reactor -I sdk/c remote.c
#include <string.h>
#include "isle.h"

#define T_ECHO 1      // answer tag+100 with the payload
#define T_CALL 2      // call peer T_ECHO with the payload: rc, answer's tag, its first word
#define T_SEND 3      // send peer T_COUNT, as many times as the payload's first word: rc
#define T_COUNT 4     // count one (a send: no answer)
#define T_GETCOUNT 5  // answer the count, and how many came out of order
#define T_WATCH 6     // trap exits, link to peer, monitor it: rcs
#define T_WAIT 7      // answer the next EXIT or DOWN: tag, kind, code, cause, text
#define T_GIVE 8      // call peer T_KEEP carrying a handle to self (revocable if word 1): rc
#define T_KEEP 9      // keep the handle the message brought
#define T_CALLKEPT 10 // call the kept handle T_ECHO: rc, answer's tag
#define T_REVOKE 11   // revoke what T_GIVE made revocable: rc
#define T_NARROW 12   // narrow peer to send only, then kill, monitor, link, call it: rcs
#define T_KILLPEER 13 // kill peer: rc
#define T_CRASH 14    // trap
#define T_LINK 15     // link to peer without trapping exits: rc
#define T_RELAY 16    // pass the handle this message brought on to peer as T_KEEP: rc
#define T_SPAWN 18    // spawn "remote" with the grant "spawner", linked, and call it: handle, rc, answer's tag
#define T_GIVEBAD 17  // call peer T_KEEP carrying a revoker handle, then send it: rcs, and whether it is still held
#define T_GIVEMANY 19 // send peer word 0 messages tagged word 1, each carrying word 2 (1-4) fresh forwarders to self: first failure (or 0), messages sent
#define T_DROP 20     // close the handles the message brought, and count it
#define T_CLOSEPEER 21 // close the handle to peer: rc
#define T_ADOPT 22    // make the kept handle the peer

static uint32_t inbox[64];
static int32_t out[32];
static uint32_t buf[64];
static isle_handle_t peer = -2, kept = -1, revoker = -1, waiter;
static int32_t count, disorder;

// Events (EXIT and DOWN) waiting for a T_WAIT, and a T_WAIT waiting for one.
static uint32_t events[8][20];
static int nevents;

__attribute__((constructor)) static void init(void) { isle_inbox(inbox, sizeof inbox); }

static isle_handle_t get_peer(void) {
	if (peer == -2) peer = isle_grant_str("peer");
	return peer;
}

static void answer(uint32_t aux, int n) {
	if (aux) isle_reply(aux, 0, out, n * 4, NULL, 0);
}

static void give_event(uint32_t to) {
	isle_reply(to, 0, events[0], sizeof events[0], NULL, 0);
	memmove(events[0], events[1], sizeof events[0] * (nevents - 1));
	nevents--;
}

static void event(uint32_t tag, uint32_t len) {
	if (nevents == 8) return;
	uint32_t *e = events[nevents++];
	memset(e, 0, sizeof events[0]);
	e[0] = tag;
	memcpy(&e[1], inbox, len < 76 ? len : 76);
	if (waiter) {
		give_event(waiter);
		waiter = 0;
	}
}

static int32_t call(isle_handle_t h, uint32_t tag, const void *data, size_t len, isle_info_t *info) {
	info->tag = 0;
	return isle_call(h, tag, data, len, NULL, 0, buf, sizeof buf, ISLE_FOREVER, info);
}

ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) {
	isle_info_t info;
	switch (tag) {
	case ISLE_TAG_EXIT:
	case ISLE_TAG_DOWN:
		event(tag, len);
		return;
	case T_ECHO:
		isle_reply(aux, tag + 100, inbox, len < sizeof inbox ? len : sizeof inbox, NULL, 0);
		return;
	case T_CALL:
		out[0] = call(get_peer(), T_ECHO, inbox, len < sizeof inbox ? len : sizeof inbox, &info);
		out[1] = (int32_t)info.tag;
		out[2] = (int32_t)buf[0];
		answer(aux, 3);
		return;
	case T_SEND:
		out[0] = 0;
		for (uint32_t i = 0; i < inbox[0] && out[0] >= 0; i++) out[0] = isle_send(get_peer(), T_COUNT, &i, 4, NULL, 0, 0);
		answer(aux, 1);
		return;
	case T_COUNT:
		if (inbox[0] != (uint32_t)count) disorder++;
		count++;
		return;
	case T_GETCOUNT:
		out[0] = count;
		out[1] = disorder;
		answer(aux, 2);
		return;
	case T_WATCH:
		isle_trap_exits(1);
		out[0] = isle_link(get_peer());
		out[1] = isle_monitor(get_peer());
		answer(aux, 2);
		return;
	case T_WAIT:
		if (nevents) give_event(aux);
		else waiter = aux;
		return;
	case T_GIVE: {
		isle_handle_t h = isle_self();
		if (len >= 4 && inbox[0] == 1) h = isle_revocable(h, ISLE_RIGHT_SEND, &revoker);
		out[0] = isle_call(get_peer(), T_KEEP, NULL, 0, &h, 1, buf, sizeof buf, ISLE_FOREVER, &info);
		answer(aux, 1);
		return;
	}
	case T_KEEP:
		if (nhandles) isle_msg_handles(&kept, 1);
		out[0] = kept;
		answer(aux, 1);
		return;
	case T_CALLKEPT:
		out[0] = call(kept, T_ECHO, "k", 1, &info);
		out[1] = (int32_t)info.tag;
		answer(aux, 2);
		return;
	case T_REVOKE:
		out[0] = isle_revoke(revoker);
		answer(aux, 1);
		return;
	case T_NARROW: {
		isle_handle_t d = isle_dup(get_peer(), ISLE_RIGHT_SEND);
		out[0] = isle_kill(d);
		out[1] = isle_monitor(d);
		out[2] = isle_link(d);
		out[3] = call(d, T_ECHO, "n", 1, &info);
		out[4] = (int32_t)info.tag;
		answer(aux, 5);
		return;
	}
	case T_KILLPEER:
		out[0] = isle_kill(get_peer());
		answer(aux, 1);
		return;
	case T_CRASH:
		__builtin_trap();
	case T_LINK:
		out[0] = isle_link(get_peer());
		answer(aux, 1);
		return;
	case T_SPAWN: {
		isle_handle_t sp = isle_grant_str("spawner");
		isle_handle_t child = sp < 0 ? sp : isle_spawn(sp, "remote", 6, "i", 1, NULL, 0, ISLE_SPAWN_LINK);
		out[0] = child;
		out[1] = out[2] = 0;
		if (child >= 0) {
			out[1] = call(child, T_ECHO, "s", 1, &info);
			out[2] = (int32_t)info.tag;
			kept = child;
		}
		answer(aux, 3);
		return;
	}
	case T_GIVEBAD: {
		isle_handle_t rv;
		isle_revocable(isle_self(), ISLE_RIGHT_SEND, &rv);
		out[0] = isle_call(get_peer(), T_KEEP, NULL, 0, &rv, 1, buf, sizeof buf, ISLE_FOREVER, &info);
		out[1] = isle_send(get_peer(), T_KEEP, NULL, 0, &rv, 1, 0);
		isle_cap_info_t ci;
		out[2] = isle_inspect(rv, &ci);
		out[3] = (int32_t)ci.kind;
		answer(aux, 4);
		return;
	}
	case T_GIVEMANY: {
		uint32_t n = inbox[0], with = inbox[1], k = inbox[2] < 1 ? 1 : inbox[2] > 4 ? 4 : inbox[2];
		out[0] = out[1] = 0;
		for (uint32_t i = 0; i < n && out[0] == 0; i++) {
			isle_handle_t hs[4], rv;
			for (uint32_t j = 0; j < k; j++) {
				hs[j] = isle_revocable(isle_self(), ISLE_RIGHT_SEND, &rv);
				isle_close(rv); // the forwarder lives on: nobody can revoke it
			}
			int32_t rc = isle_send(get_peer(), with, &i, 4, hs, k, 0);
			if (rc < 0) {
				for (uint32_t j = 0; j < k; j++) isle_close(hs[j]); // a failed send leaves them here
				out[0] = rc;
			} else {
				out[1]++;
			}
		}
		answer(aux, 2);
		return;
	}
	case T_DROP: {
		isle_handle_t hs[16];
		int32_t got = isle_msg_handles(hs, 16);
		for (int32_t j = 0; j < got && j < 16; j++) isle_close(hs[j]);
		count++;
		return;
	}
	case T_CLOSEPEER:
		out[0] = isle_close(get_peer());
		peer = -1;
		answer(aux, 1);
		return;
	case T_ADOPT:
		peer = kept;
		answer(aux, 0);
		return;
	case T_RELAY: {
		isle_handle_t h = -1;
		if (nhandles) isle_msg_handles(&h, 1);
		out[0] = isle_call(get_peer(), T_KEEP, NULL, 0, &h, 1, buf, sizeof buf, ISLE_FOREVER, &info);
		answer(aux, 1);
		return;
	}
	}
}
