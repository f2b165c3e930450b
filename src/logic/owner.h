/* keepwatch: which process holds a socket — a small cache of the processes that recently
 * held a service's connections or listening sockets (pure; the /proc walks that fill it
 * are kernel/owner_proc.h). Used by enforce_keepalive to find a socket's owner without scanning
 * every fd of every process per connection. */
#ifndef KEEPWATCH_OWNER_H
#define KEEPWATCH_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OWNER_CACHE_MAX 256

enum owner_kind {
	OWNER_CONN = 1, /* held one of the service's connections */
	OWNER_LISTENER = 2, /* holds one of its listening sockets: its children are looked at too */
};

struct owner_entry {
	pid_t pid;
	unsigned svc;
	unsigned kinds; /* enum owner_kind bits */
	uint64_t last_ms; /* caller's clock: last time it was found holding something */
};

/* Written only by owner.c. */
struct owner_cache {
	struct owner_entry v[OWNER_CACHE_MAX];
	size_t n;
};

/* Remembers that pid held a socket of kind for svc at now. When full, the least recently
 * seen connection owner goes first (listener holders are kept over them: they are few and
 * lead to every child a prefork server starts). */
void owner_cache_note(struct owner_cache *c, unsigned svc, pid_t pid, enum owner_kind kind,
		      uint64_t now);
/* Forgets pid (it exited) for every service. */
void owner_cache_forget(struct owner_cache *c, pid_t pid);
void owner_cache_clear(struct owner_cache *c);
/* Up to cap pids that held something of kinds (bits) for svc, most recently seen first;
 * returns how many were written. */
size_t owner_cache_candidates(const struct owner_cache *c, unsigned svc, unsigned kinds, pid_t *out,
			      size_t cap);

#endif
