/* keepwatch: the sock_ops program's ring buffer read by keepwatchd — the consumer and producer
 * pages mapped, the records taken in order, up to a bound per call, decoded (sockops_decode.c),
 * and the consumer position handed back; the program's counters; what a failed load says. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "kernel/sockops.h"
#include "kernel/sockops_priv.h"

/* A load that failed: EPERM is a refusal (a capability, seccomp, an LSM), anything else the
 * verifier's or libbpf's: the last line of the verifier's log says which. */
void sockops_load_failed(int err, const char *log, struct sockops_why *why)
{
	char last[96] = "";
	const char *end = log + strlen(log), *start;

	while (end > log && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	start = end;
	while (start > log && start[-1] != '\n')
		start--;
	if (end > start)
		snprintf(last, sizeof(last), ": %.*s", (int)(end - start), start);
	why->reason = err == -EPERM || err == -EACCES ? "eperm" : "load-failed";
	snprintf(why->error, sizeof(why->error), "loading the program: %s%s", strerror(-err),
		 err == -EPERM ? " (a capability missing, or seccomp or an LSM refused bpf())"
			       : last);
}

int sockops_ring_map(struct sockops *h, struct sockops_why *why)
{
	struct bpf_map *m = bpf_object__find_map_by_name(h->obj, "kw_ring");
	long page = sysconf(_SC_PAGESIZE);
	struct sockops_ring *r = &h->ring;

	r->fd = m ? bpf_map__fd(m) : -1;
	r->size = m ? bpf_map__max_entries(m) : 0;
	r->cons = r->prod = NULL;
	if (r->fd < 0 || page <= 0) {
		snprintf(why->error, sizeof(why->error), "the ring map is missing");
		why->reason = "load-failed";
		return -ENOENT;
	}
	/* the consumer position is ours to write; the producer's page and the data (mapped
	 * twice in a row, so a record that wraps reads as one) are read-only */
	r->cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->cons == MAP_FAILED)
		r->cons = NULL;
	r->prod = mmap(NULL, (size_t)page + 2 * r->size, PROT_READ, MAP_SHARED, r->fd, page);
	if (r->prod == MAP_FAILED)
		r->prod = NULL;
	if (!r->cons || !r->prod) {
		int err = -errno;

		sockops_ring_unmap(h);
		snprintf(why->error, sizeof(why->error), "mapping the ring: %s", strerror(-err));
		why->reason = "load-failed";
		return err;
	}
	return 0;
}

void sockops_ring_unmap(struct sockops *h)
{
	long page = sysconf(_SC_PAGESIZE);
	struct sockops_ring *r = &h->ring;

	if (r->cons)
		munmap(r->cons, (size_t)page);
	if (r->prod)
		munmap(r->prod, (size_t)page + 2 * r->size);
	r->cons = r->prod = NULL;
	r->fd = -1;
}

int sockops_ring_fd(const struct sockops *h)
{
	return h->open ? h->ring.fd : -1;
}

size_t sockops_read(struct sockops *h, struct sockops_event *ev, size_t max, uint64_t *malformed)
{
	struct sockops_ring *r = &h->ring;
	uint64_t *cons = r->cons, *prod = r->prod, c, p;
	const uint8_t *data;
	size_t n = 0;

	if (!h->open || !cons || !prod)
		return 0;
	data = (const uint8_t *)r->prod + sysconf(_SC_PAGESIZE);
	c = __atomic_load_n(cons, __ATOMIC_RELAXED);
	p = __atomic_load_n(prod, __ATOMIC_ACQUIRE);
	while (n < max && c < p) {
		const uint32_t *hdr = (const uint32_t *)(data + (c & (r->size - 1)));
		uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		uint32_t rec = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* being written: the next read takes it */
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			if (rec <= r->size &&
			    sockops_decode((const uint8_t *)hdr + BPF_RINGBUF_HDR_SZ, rec,
					   &ev[n]) == 0)
				n++;
			else
				(*malformed)++;
		}
		c += (rec + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
		__atomic_store_n(cons, c, __ATOMIC_RELEASE);
		if (c == p)
			p = __atomic_load_n(prod, __ATOMIC_ACQUIRE);
	}
	return n;
}

void sockops_counters_of(const struct sockops_bss *b, struct sockops_counters *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < 4; i++)
		c->records[i] = __atomic_load_n(&b->records[i], __ATOMIC_RELAXED);
	c->lost = __atomic_load_n(&b->lost, __ATOMIC_RELAXED);
	c->socks_full = __atomic_load_n(&b->socks_full, __ATOMIC_RELAXED);
	for (size_t i = 0; i < SOCKOPS_ENF_COUNT; i++)
		c->handshakes[i] = __atomic_load_n(&b->enforced[i], __ATOMIC_RELAXED);
	for (size_t i = 0; i < KW_SO_GUARD_COUNT; i++)
		c->guarded[i] = __atomic_load_n(&b->guarded[i], __ATOMIC_RELAXED);
}

void sockops_counters(const struct sockops *h, struct sockops_counters *c)
{
	if (h->open && h->bss)
		sockops_counters_of(h->bss, c);
	else
		memset(c, 0, sizeof(*c));
}

/* Another process's program: its .bss read through the map (one lookup of key 0). */
void sockops_found_counters(struct sockops_found *f)
{
	struct sockops_bss b;
	uint32_t key = 0;

	memset(&b, 0, sizeof(b));
	if (bpf_map_lookup_elem(f->bss_fd, &key, &b) == 0)
		sockops_counters_of(&b, &f->counters);
}
