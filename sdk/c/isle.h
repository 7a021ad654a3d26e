/*
 * isle.h: the isle host ABI for C, Rust (via bindgen) and Zig guests.
 *
 * docs/ABI.md is the reference: every function, its error codes, and which
 * misuse abandons the caller. This header only declares the imports and a
 * few conveniences; it has no library to link.
 *
 * Build a command:  clang --target=wasm32-wasi -O2 -I sdk/c app.c -o app.wasm
 * Build a reactor:  clang --target=wasm32-wasi -O2 -mexec-model=reactor \
 *                     -I sdk/c app.c -o app.wasm   (and define ISLE_HANDLER)
 */
#ifndef ISLE_H
#define ISLE_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISLE_IMPORT(name) __attribute__((import_module("isle"), import_name(name)))

typedef int32_t isle_handle_t;

/* Error codes: every function returns >= 0 on success. */
#define ISLE_ETIMEOUT  (-1) /* the timeout passed, or nothing was ready */
#define ISLE_EGONE     (-2) /* the peer process has ended */
#define ISLE_EFULL     (-3) /* the receiver's mailbox is full (non-blocking send) */
#define ISLE_ETOOBIG   (-4) /* over the size limit, or the buffer is too small */
#define ISLE_ERIGHTS   (-5) /* the handle lacks a right */
#define ISLE_EREVOKED  (-6) /* the handle was revoked */
#define ISLE_ELIMIT    (-7) /* process limit, spawn quota or handle table full */
#define ISLE_ENOTFOUND (-8) /* no such grant or module */

/* System tags. User tags must be below ISLE_TAG_SYSTEM. */
#define ISLE_TAG_SYSTEM 0xFFFF0000u
#define ISLE_TAG_EXIT   0xFFFF0001u /* a linked process ended; aux: handle to it */
#define ISLE_TAG_DOWN   0xFFFF0002u /* a monitored process ended; aux: the ref */
#define ISLE_TAG_INIT   0xFFFF0003u /* first message of a spawned process */
#define ISLE_TAG_SHUTDOWN 0xFFFF0004u /* your supervisor is stopping you: end, or be killed at your shutdown timeout */

/* Flags. */
#define ISLE_SPAWN_LINK    1u
#define ISLE_SPAWN_STDIO   2u
#define ISLE_SEND_NONBLOCK 1u
#define ISLE_SEND_COPY     2u

#define ISLE_FOREVER ((int64_t)-1)
#define ISLE_MAX_HANDLES 16
#define ISLE_MAX_MESSAGE (1u << 20) /* the largest payload of one message */

/* What recv and call write at info_ptr. */
typedef struct {
	uint32_t len;      /* payload length (may exceed the buffer: see msg_read) */
	uint32_t tag;
	uint32_t aux;      /* reply handle, peer handle or monitor ref, by tag */
	uint32_t nhandles; /* handles the message brought: see isle_msg_handles */
} isle_info_t;

/* The payload of ISLE_TAG_EXIT and ISLE_TAG_DOWN messages. */
typedef struct {
	uint32_t kind; /* 1 normal, 2 abandoned, 3 killed, 4 noproc, 5 noconnection */
	uint32_t code; /* exit code, when normal */
	uint32_t cause;
	uint32_t text_len;
	char text[];
} isle_exit_t;

ISLE_IMPORT("self") isle_handle_t isle_self(void);
ISLE_IMPORT("grant") isle_handle_t isle_grant(const char *name, size_t name_len);
ISLE_IMPORT("spawn") isle_handle_t isle_spawn(isle_handle_t spawner, const char *name, size_t name_len,
                                               const void *init, size_t init_len,
                                               const isle_handle_t *handles, size_t nhandles, uint32_t flags);
ISLE_IMPORT("send") int32_t isle_send(isle_handle_t to, uint32_t tag, const void *data, size_t len,
                                      const isle_handle_t *handles, size_t nhandles, uint32_t flags);
ISLE_IMPORT("recv") int32_t isle_recv(void *buf, size_t cap, uint32_t match, uint32_t mask,
                                      int64_t timeout_ns, isle_info_t *info);
ISLE_IMPORT("msg_read") int32_t isle_msg_read(size_t offset, void *buf, size_t len);
ISLE_IMPORT("msg_handles") int32_t isle_msg_handles(isle_handle_t *out, size_t cap);
ISLE_IMPORT("call") int32_t isle_call(isle_handle_t to, uint32_t tag, const void *data, size_t len,
                                      const isle_handle_t *handles, size_t nhandles,
                                      void *buf, size_t cap, int64_t timeout_ns, isle_info_t *info);
ISLE_IMPORT("reply") int32_t isle_reply(isle_handle_t reply, uint32_t tag, const void *data, size_t len,
                                        const isle_handle_t *handles, size_t nhandles);
ISLE_IMPORT("inbox") int32_t isle_inbox(void *buf, size_t cap);
ISLE_IMPORT("close") int32_t isle_close(isle_handle_t h);
ISLE_IMPORT("kill") int32_t isle_kill(isle_handle_t h);
ISLE_IMPORT("exit") __attribute__((noreturn)) void isle_exit(uint32_t code);
ISLE_IMPORT("link") int32_t isle_link(isle_handle_t h);
ISLE_IMPORT("unlink") int32_t isle_unlink(isle_handle_t h);
ISLE_IMPORT("monitor") int32_t isle_monitor(isle_handle_t h);
ISLE_IMPORT("demonitor") int32_t isle_demonitor(int32_t ref);
ISLE_IMPORT("trap_exits") int32_t isle_trap_exits(int32_t on);

/* Capabilities of every kind (docs/ABI.md, "Capabilities"). */
typedef struct {
	uint32_t kind;    /* ISLE_KIND_* */
	uint32_t rights;  /* the kind's ISLE_RIGHT_* bits */
	uint32_t revoked; /* 1 once its grantor has revoked it */
} isle_cap_info_t;

#define ISLE_KIND_PROCESS 1
#define ISLE_KIND_REPLY   2
#define ISLE_KIND_SPAWNER 3
#define ISLE_KIND_DIR     4
#define ISLE_KIND_KV      5
#define ISLE_KIND_CLOCK   6
#define ISLE_KIND_RANDOM  7
#define ISLE_KIND_LOG     8
#define ISLE_KIND_HTTP    9
#define ISLE_KIND_REVOKER 10

#define ISLE_RIGHT_SEND      1u /* process */
#define ISLE_RIGHT_MONITOR   2u
#define ISLE_RIGHT_KILL      4u
#define ISLE_RIGHT_READ      1u /* directory */
#define ISLE_RIGHT_WRITE     2u
#define ISLE_RIGHT_CREATE    4u
#define ISLE_RIGHT_DELETE    8u
#define ISLE_RIGHT_GET       1u /* key-value */
#define ISLE_RIGHT_PUT       2u
#define ISLE_RIGHT_REMOVE    4u
#define ISLE_RIGHT_LIST      8u
#define ISLE_RIGHT_MONOTONIC 1u /* clock */
#define ISLE_RIGHT_WALL      2u
#define ISLE_RIGHT_USE       1u /* spawner, random, log, http, revoker */

ISLE_IMPORT("dup") isle_handle_t isle_dup(isle_handle_t h, uint32_t rights);
ISLE_IMPORT("inspect") int32_t isle_inspect(isle_handle_t h, isle_cap_info_t *info);
ISLE_IMPORT("revocable") isle_handle_t isle_revocable(isle_handle_t h, uint32_t rights, isle_handle_t *revoker);
ISLE_IMPORT("revoke") int32_t isle_revoke(isle_handle_t revoker);

/* Conveniences. */
static inline isle_handle_t isle_grant_str(const char *name) {
	size_t n = 0;
	while (name[n]) n++;
	return isle_grant(name, n);
}

static inline int32_t isle_send_bytes(isle_handle_t to, uint32_t tag, const void *data, size_t len) {
	return isle_send(to, tag, data, len, NULL, 0, 0);
}

/*
 * A reactor defines its handler with ISLE_HANDLER:
 *
 *   ISLE_HANDLER void handle(uint32_t len, uint32_t tag, uint32_t aux, uint32_t nhandles) { ... }
 *
 * The kernel calls it once per message. Register an inbox (isle_inbox) in a
 * constructor or on the first turn to receive the payload without a copy
 * call; otherwise read it with isle_msg_read.
 */
#define ISLE_HANDLER __attribute__((export_name("isle_handle")))

#ifdef __cplusplus
}
#endif

/* The services, one header each. */
#include "isle_services.h"

#endif /* ISLE_H */
