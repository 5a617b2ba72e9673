/* log.c - leveled logging: text or hclog JSON lines to a file descriptor,
 * the log file (log_file.c), syslog (log_syslog.c), subscribers and an
 * optional sink.
 *
 * Layer: util. Thread: any.
 * Each event is formatted once into stack buffers (the message capped
 * at LOG_MSG_MAX bytes) and written with one write(2) per output; the
 * JSON form is made only when an output or a subscriber wants it.
 * Tests: t/unit/check_log.c, t/t7004-logs.sh
 */
#include "log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log_int.h"

#define LOG_MSG_MAX 2048
#define LOG_MOD_MAX 64
/* Timestamp, level, module and room for "\n\0" around the message. */
#define TEXT_MAX (LOG_MSG_MAX + LOG_MOD_MAX + 64)
/* Escaping grows a byte to at most 6 (see log_json_escape). */
#define JSON_MAX (6 * (LOG_MSG_MAX + LOG_MOD_MAX) + 128)

static enum log_level cur_level = LOG_LVL_INFO;
static int out_fd = 2;
static bool json_on, in_child;
static log_sink_fn sink_fn;
static void *sink_ctx;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

struct sub {
    log_sink_fn fn;
    void *ctx;
    enum log_level lvl;
    unsigned flags;
};
static struct sub subs[LOG_MAX_SUBSCRIBERS];
static int n_subs, n_json_subs;
static enum log_level sub_min = LOG_LVL_OFF; /* lowest subscribed level */
static pthread_t sub_thread;                 /* set by the first one */
static bool sub_thread_set, in_subs;

static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN",
                                    "ERROR"};
static const char *const json_names[] = {"trace", "debug", "info", "warn",
                                         "error"};

void log_set_level(enum log_level lvl) { cur_level = lvl; }
enum log_level log_get_level(void) { return cur_level; }
void log_set_fd(int fd) { out_fd = fd; }
void log_set_json(bool on) { json_on = on; }
bool log_in_child(void) { return in_child; }

void log_set_sink(log_sink_fn fn, void *ctx)
{
    sink_fn = fn;
    sink_ctx = ctx;
}

/* ---- fork ------------------------------------------------------------ */

static void fork_prepare(void) { log_file_lock(); }
static void fork_parent(void) { log_file_unlock(); }

static void fork_child(void)
{
    log_file_unlock();
    in_child = true;
}

static void atfork_register(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void log_atfork_init(void)
{
    pthread_once(&atfork_once, atfork_register);
}

/* ---- subscribers ------------------------------------------------------ */

static void sub_recompute(void)
{
    sub_min = LOG_LVL_OFF;
    n_json_subs = 0;
    for (int i = 0; i < n_subs; i++) {
        if (subs[i].lvl < sub_min)
            sub_min = subs[i].lvl;
        n_json_subs += (subs[i].flags & LOG_SUB_JSON) != 0;
    }
}

int log_subscribe(log_sink_fn fn, void *ctx, enum log_level lvl,
                  unsigned flags)
{
    if (n_subs == LOG_MAX_SUBSCRIBERS)
        return ERR_TOOBIG;
    log_atfork_init();
    if (!sub_thread_set) {
        sub_thread = pthread_self();
        sub_thread_set = true;
    }
    subs[n_subs++] = (struct sub){fn, ctx, lvl, flags};
    sub_recompute();
    return 0;
}

void log_unsubscribe(log_sink_fn fn, void *ctx)
{
    for (int i = 0; i < n_subs; i++) {
        if (subs[i].fn == fn && subs[i].ctx == ctx) {
            subs[i] = subs[--n_subs];
            break;
        }
    }
    sub_recompute();
}

/* Only on the subscribing thread, never from inside a subscriber and
 * never in a forked child (whose copy of the subscribers is stale). */
static bool subs_want(enum log_level lvl)
{
    return lvl >= sub_min && sub_thread_set && !in_child &&
           pthread_equal(pthread_self(), sub_thread) && !in_subs;
}

static void subs_deliver(enum log_level lvl, const char *text,
                         const char *json)
{
    in_subs = true;
    for (int i = 0; i < n_subs; i++) {
        const char *line = subs[i].flags & LOG_SUB_JSON ? json : text;

        if (lvl >= subs[i].lvl && line != NULL)
            subs[i].fn(subs[i].ctx, lvl, line);
    }
    in_subs = false;
}

/* ---- levels ----------------------------------------------------------- */

const char *log_level_name(enum log_level lvl)
{
    return lvl < LOG_LVL_OFF ? names[lvl] : "OFF";
}

int log_level_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < LOG_LVL_OFF; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0 || strcasecmp(s, "err") == 0)
        return strcasecmp(s, "err") == 0 ? LOG_LVL_ERROR : LOG_LVL_WARN;
    return -1;
}

/* ---- formatting ------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "2026-11-24T09:00:00.123Z" (digits 3) or ".123456Z" (6), UTC. */
static size_t fmt_time(char *out, size_t cap, int64_t ns, int digits)
{
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    struct tm tm;
    size_t n;

    gmtime_r(&sec, &tm);
    n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    frac /= digits == 3 ? 1000000 : 1000;
    return n + (size_t)snprintf(out + n, cap - n, ".%0*ldZ", digits, frac);
}

/* Text line without newline; *mod_at is where "<module>: " starts. */
static size_t fmt_text(char *out, size_t cap, enum log_level lvl,
                       const char *mod, const char *msg, int64_t ns,
                       size_t *mod_at)
{
    const char *name = log_level_name(lvl);
    size_t n = fmt_time(out, cap, ns, 3);
    int k;

    k = snprintf(out + n, cap - n, " [%s]%s ", name,
                 strlen(name) < 5 ? " " : "");
    n += (size_t)k;
    *mod_at = n;
    k = snprintf(out + n, cap - n, "%.*s: %s", LOG_MOD_MAX, mod, msg);
    n = k < 0 || n + (size_t)k >= cap ? cap - 1 : n + (size_t)k;
    /* One event, one line: control characters never split it. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 && out[i] != '\t')
            out[i] = '?';
    out[n] = '\0';
    return n;
}

/* Length of the UTF-8 sequence at s (n bytes left) as Go decodes it, or
 * 0 when invalid; *cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    unsigned c = s[0] & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};

    if (s[0] < 0xc2 || s[0] > 0xf4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

size_t log_json_escape(char *out, size_t cap, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0, k;
    unsigned cp;

    for (size_t i = 0; i < n; i += k) {
        char esc[8];
        const char *w = esc;
        size_t wn;

        k = 1;
        if (u[i] == '"' || u[i] == '\\') {
            esc[0] = '\\', esc[1] = (char)u[i], wn = 2;
        } else if (u[i] == '\n' || u[i] == '\r' || u[i] == '\t') {
            esc[0] = '\\', wn = 2;
            esc[1] = u[i] == '\n' ? 'n' : u[i] == '\r' ? 'r' : 't';
        } else if (u[i] < 0x20 || u[i] == '<' || u[i] == '>' ||
                   u[i] == '&') {
            wn = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
        } else if (u[i] < 0x80) {
            w = (const char *)u + i, wn = 1;
        } else if ((k = utf8_seq(u + i, n - i, &cp)) == 0) {
            k = 1, w = "\\ufffd", wn = 6;
        } else if (cp == 0x2028 || cp == 0x2029) {
            w = cp == 0x2028 ? "\\u2028" : "\\u2029", wn = 6;
        } else {
            w = (const char *)u + i, wn = k;
        }
        if (o + wn >= cap)
            return (size_t)-1;
        memcpy(out + o, w, wn);
        o += wn;
    }
    if (o >= cap)
        return (size_t)-1;
    out[o] = '\0';
    return o;
}

size_t log_json_line(char *out, size_t cap, enum log_level lvl,
                     const char *mod, const char *msg, int64_t ns)
{
    static const char k_lvl[] = "{\"@level\":\"",
                      k_msg[] = "\",\"@message\":\"",
                      k_mod[] = "\",\"@module\":\"",
                      k_ts[] = "\",\"@timestamp\":\"";
    char ts[48];
    size_t n = 0, k;

#define PUT(s, len)                                                     \
    do {                                                                \
        if (n + (len) >= cap)                                           \
            return (size_t)-1;                                          \
        memcpy(out + n, s, len);                                        \
        n += (len);                                                     \
    } while (0)
    PUT(k_lvl, sizeof(k_lvl) - 1);
    k = strlen(lvl < LOG_LVL_OFF ? json_names[lvl] : "all");
    PUT(lvl < LOG_LVL_OFF ? json_names[lvl] : "all", k);
    PUT(k_msg, sizeof(k_msg) - 1);
    if ((k = log_json_escape(out + n, cap - n, msg, strlen(msg))) ==
        (size_t)-1)
        return k;
    n += k;
    PUT(k_mod, sizeof(k_mod) - 1);
    if ((k = log_json_escape(out + n, cap - n, mod,
                             strnlen(mod, LOG_MOD_MAX))) == (size_t)-1)
        return k;
    n += k;
    PUT(k_ts, sizeof(k_ts) - 1);
    k = fmt_time(ts, sizeof(ts), ns, 6);
    PUT(ts, k);
    PUT("\"}", 2);
#undef PUT
    out[n] = '\0';
    return n;
}

/* ---- outputs ---------------------------------------------------------- */

/* line (n bytes, NUL-terminated: the NUL becomes the newline for the
 * writes) to the fd, the file and syslog. */
static void emit(enum log_level lvl, char *line, size_t n,
                 const char *syslog_msg, bool to_file)
{
    line[n] = '\n';
    if (write(out_fd, line, n + 1) < 0) {
        /* Nowhere left to report it. */
    }
    if (to_file)
        log_file_line(line, n + 1);
    line[n] = '\0';
    log_syslog_line(lvl, json_on ? line : syslog_msg);
}

void log_vwrite(enum log_level lvl, const char *mod, const char *fmt,
                va_list ap)
{
    char msg[LOG_MSG_MAX], text[TEXT_MAX], json[JSON_MAX];
    bool to_subs = subs_want(lvl), out = lvl >= cur_level;
    size_t tn, jn = (size_t)-1, mod_at;
    int64_t ns;

    if (!out && sink_fn == NULL && !to_subs)
        return;
    ns = now_ns();
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    tn = fmt_text(text, sizeof(text) - 1, lvl, mod, msg, ns, &mod_at);
    if ((out && json_on) || (to_subs && n_json_subs > 0))
        jn = log_json_line(json, sizeof(json) - 1, lvl, mod, msg, ns);
    if (sink_fn != NULL)
        sink_fn(sink_ctx, lvl, text);
    if (to_subs)
        subs_deliver(lvl, text, jn != (size_t)-1 ? json : NULL);
    if (!out)
        return;
    if (json_on && jn != (size_t)-1)
        emit(lvl, json, jn, NULL, true);
    else
        emit(lvl, text, tn, text + mod_at, true);
}

void log_write(enum log_level lvl, const char *mod, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(lvl, mod, fmt, ap);
    va_end(ap);
}

void log_report(enum log_level lvl, const char *fmt, ...)
{
    char msg[LOG_MSG_MAX], text[TEXT_MAX], json[JSON_MAX];
    size_t tn, jn = (size_t)-1, mod_at;
    int64_t ns = now_ns();
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    tn = fmt_text(text, sizeof(text) - 1, lvl, "log", msg, ns, &mod_at);
    if (json_on)
        jn = log_json_line(json, sizeof(json) - 1, lvl, "log", msg, ns);
    if (jn != (size_t)-1)
        emit(lvl, json, jn, NULL, false);
    else
        emit(lvl, text, tn, text + mod_at, false);
}
