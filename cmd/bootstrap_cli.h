/* bootstrap_cli.h - what cmd/bootstrap.c and cmd/bootstrap_check.c share.
 *
 * Included only by those two files; the helpers are defined in
 * cmd/bootstrap.c.
 */
#ifndef PROCONSUL_BOOTSTRAP_CLI_H
#define PROCONSUL_BOOTSTRAP_CLI_H

#include <arpa/inet.h>
#include <stdbool.h>

#include "err.h"

#define BS_MAX_NODES 64
#define BS_IP_LEN INET6_ADDRSTRLEN

/* Split the comma-separated list s (the value of -flag) into IP address
 * literals, appended to ips[*n..] (at most BS_MAX_NODES in all). Refuses
 * an empty list or entry, a malformed or unspecified address and a
 * duplicate (also of an entry already in ips) with a message that says
 * how to fix it; returns 0 or ERR_INVAL. */
int bootstrap_parse_ips(const char *flag, const char *s,
                        char ips[][BS_IP_LEN], int *n, char *err);

/* "consul bootstrap check": argv[0] is "check". Returns the exit code. */
int bootstrap_check(int argc, char **argv);

#endif
