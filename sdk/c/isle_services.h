/*
 * isle_services.h: the ABI of isle's system services, each reached through
 * a capability handle. Included by isle.h; docs/ABI.md is the reference.
 */
#ifndef ISLE_SERVICES_H
#define ISLE_SERVICES_H

#ifdef __cplusplus
extern "C" {
#endif

/* Each service adds its section below. */

#ifdef __cplusplus
}
#endif
#endif /* ISLE_SERVICES_H */
