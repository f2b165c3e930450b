/* keepwatch: which service a TCP connection belongs to — the first service whose port and
 * network lists all hold the connection's tuple, among those the caller allows. */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"

/* A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; match it as the IPv4 address
 * it is, as the kernel's inet_diag bytecode does. */
static const void *unmap(int *family, const void *addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (*family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
		*family = AF_INET;
		return (const uint8_t *)addr + sizeof(mapped);
	}
	return addr;
}

_Static_assert(KW_MAX_SERVICES <= 64, "a service mask is 64 bits");

const struct kw_service *config_match(const struct kw_config *cfg, int family, const void *laddr,
				      uint16_t lport, const void *raddr, uint16_t rport)
{
	return config_match_mask(cfg, UINT64_MAX, family, laddr, lport, raddr, rport);
}

const struct kw_service *config_match_mask(const struct kw_config *cfg, uint64_t mask, int family,
					   const void *laddr, uint16_t lport, const void *raddr,
					   uint16_t rport)
{
	int lfam = family, rfam = family;

	laddr = unmap(&lfam, laddr);
	raddr = unmap(&rfam, raddr);
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct kw_service *s = &cfg->services[i];

		if (!(mask & (UINT64_C(1) << i)))
			continue;
		if (port_list_contains(s->local_ports, s->n_local_ports, lport) &&
		    port_list_contains(s->remote_ports, s->n_remote_ports, rport) &&
		    cidr_list_contains(s->local_net, s->n_local_net, lfam, laddr) &&
		    cidr_list_contains(s->remote_net, s->n_remote_net, rfam, raddr))
			return s;
	}
	return NULL;
}
