/* log_syslog.c - enable_syslog: the agent's lines to syslog(3).
 *
 * Layer: util. Thread: any (glibc's syslog(3) locks itself).
 * <syslog.h> names its priorities LOG_DEBUG and LOG_INFO, as log.h names
 * its macros: the priorities are copied first, then log.h's take over.
 * Tests: t/unit/check_log.c, t/t7004-logs.sh
 */
#include <stdbool.h>
#include <strings.h>
#include <syslog.h>

/* Consul's levelPriority (logging/syslog.go), by enum log_level. */
static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING,
                           LOG_ERR};
static const int prio_other = LOG_NOTICE;

#undef LOG_DEBUG
#undef LOG_INFO

#include "err.h"
#include "log.h"
#include "log_int.h"

static bool syslog_on;

int log_syslog_facility(const char *name)
{
    static const struct {
        const char *name;
        int fac;
    } tab[] = {
        {"KERN", LOG_KERN}, {"USER", LOG_USER}, {"MAIL", LOG_MAIL},
        {"DAEMON", LOG_DAEMON}, {"AUTH", LOG_AUTH}, {"SYSLOG", LOG_SYSLOG},
        {"LPR", LOG_LPR}, {"NEWS", LOG_NEWS}, {"UUCP", LOG_UUCP},
        {"CRON", LOG_CRON}, {"AUTHPRIV", LOG_AUTHPRIV}, {"FTP", LOG_FTP},
        {"LOCAL0", LOG_LOCAL0}, {"LOCAL1", LOG_LOCAL1},
        {"LOCAL2", LOG_LOCAL2}, {"LOCAL3", LOG_LOCAL3},
        {"LOCAL4", LOG_LOCAL4}, {"LOCAL5", LOG_LOCAL5},
        {"LOCAL6", LOG_LOCAL6}, {"LOCAL7", LOG_LOCAL7},
    };

    for (size_t i = 0; name != NULL && i < sizeof(tab) / sizeof(*tab); i++)
        if (strcasecmp(name, tab[i].name) == 0)
            return tab[i].fac;
    return -1;
}

/* Ident "consul" and the pid, as Go's log/syslog writes "consul[pid]". */
int log_syslog_open(const char *facility, char *err)
{
    char q[ERR_QUOTE_MAX + 1];
    int fac = log_syslog_facility(facility);

    if (fac < 0)
        return err_set(err, ERR_INVAL, "invalid syslog facility: \"%s\"",
                       err_quote(q, sizeof(q), facility));
    log_atfork_init();
    openlog("consul", LOG_PID | LOG_NDELAY, fac);
    syslog_on = true;
    return 0;
}

void log_syslog_close(void)
{
    if (!syslog_on)
        return;
    syslog_on = false;
    closelog();
}

void log_syslog_line(enum log_level lvl, const char *msg)
{
    if (!syslog_on || log_in_child())
        return;
    syslog(lvl < LOG_LVL_OFF ? prio[lvl] : prio_other, "%s", msg);
}
