/* version.h - the version strings every part of the agent reports.
 *
 * Layer: util. We report Consul's API version we are compatible with,
 * with our own release as a "proconsul.N" pre-release-style suffix so
 * scripts that parse "Consul v1.17.0" keep working.
 */
#ifndef PROCONSUL_VERSION_H
#define PROCONSUL_VERSION_H

#ifndef PROCONSUL_VERSION
#define PROCONSUL_VERSION "0.0.0"
#endif
#define VERSION_CONSUL "1.17.0"
#define VERSION_HUMAN VERSION_CONSUL "-proconsul." PROCONSUL_VERSION

/* The git revision built ("unknown" outside a checkout), and
 * VERSION_HUMAN ":" that revision (the gossip "build" tag). Only
 * libcore/version.c is compiled with the revision, so a commit does not
 * rebuild everything. */
const char *version_revision(void);
const char *version_build(void);

#endif
