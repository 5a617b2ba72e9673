/* version.c - the git revision, the one value that changes each commit.
 *
 * Layer: util. Thread: any.
 * Tests: t/t0001-cli-basics.sh (version), t/t7001-ops-cli.sh (info)
 */
#include "version.h"

#ifndef PROCONSUL_REVISION
#define PROCONSUL_REVISION "unknown"
#endif

const char *version_revision(void)
{
    return PROCONSUL_REVISION;
}

const char *version_build(void)
{
    return VERSION_HUMAN ":" PROCONSUL_REVISION;
}
