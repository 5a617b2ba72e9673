/* dns.h - the agent's DNS interface (Consul's, port 8600).
 *
 * Layer: http (uses every lower layer; ldns for the wire format).
 * Thread: loop only.
 * Owns: the UDP and TCP listening sockets, TCP connections, lookups
 * forwarded to a server and not answered yet.
 * Listens over UDP and TCP on every DNS address of the config
 * (addresses.dns, else client_addr) at ports.dns (8600; -1 disables).
 * Answers <node>.node[.<dc>].<domain>, [<tag>.]<svc>.service[.<dc>].
 * <domain>, _<svc>._<tag|tcp>[.service][.<dc>].<domain>, <hex>.addr,
 * SOA, NS and PTR (nodes) as Consul does; names outside the domain get
 * REFUSED (no recursors). Servers read their local catalog (stale, as
 * Consul's default allow_stale); client agents ask a server over its
 * RPC port (GET /v1/health/service/<svc>?stale, /v1/catalog/node/<n>?
 * stale, /v1/catalog/nodes?stale) without blocking the loop. A lookup
 * in another datacenter (<svc>.service.<dc2>.<domain>) always goes to a
 * server with &dc=<dc2>, which forwards it over the WAN pool; "No path
 * to datacenter" answers NXDOMAIN.
 * Tests: t/t2103-dns.sh, t/unit/check_dns.c
 */
#ifndef PROCONSUL_DNS_H
#define PROCONSUL_DNS_H

#include "agent.h"
#include "err.h"

struct dns;

/* Read the DNS settings of a's config (a is borrowed and must outlive
 * the server); nothing is bound yet. NULL with err filled on a bad
 * setting or no memory. */
struct dns *dns_new(struct agent *a, char *err);
/* Bind UDP and TCP on every address (nothing when ports.dns is -1);
 * registers a shutdown hook that closes everything when the agent
 * stops. On failure what was opened is being closed (run the loop). */
int dns_start(struct dns *d, char *err);
/* Free after the loop has stopped. dns_free(NULL) is a no-op. */
void dns_free(struct dns *d);

#endif
