/* httpd.h - the agent's HTTP API (Consul's /v1/...) on H2O and libuv.
 *
 * Layer: http (uses every lower layer). Thread: loop only.
 * Owns: the H2O config and context, the listening sockets.
 * Listens on every HTTP address of the config (addresses.http, else
 * client_addr; never 0.0.0.0 unless told) at ports.http.
 * Errors keep Consul's plain-text bodies (clients string-match them);
 * the stable error code travels in the X-Proconsul-Error header.
 * Tests: t/t1*.sh, t/t0*.sh
 */
#ifndef PROCONSUL_HTTPD_H
#define PROCONSUL_HTTPD_H

#include "agent.h"
#include "err.h"

struct httpd;

/* Prepare the server for agent a (borrowed; must outlive it). */
struct httpd *httpd_new(struct agent *a, char *err);
/* Bind and listen on every address; registers a shutdown hook that
 * closes the listeners when the agent stops. */
int httpd_start(struct httpd *h, char *err);
/* Free after the loop has stopped. httpd_free(NULL) is a no-op. */
void httpd_free(struct httpd *h);

#endif
