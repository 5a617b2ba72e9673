/* services.c - "consul services register|deregister": services of the
 * local agent, from flags or from config files (HCL or JSON, their
 * `service`/`services` blocks).
 *
 * Endpoints: PUT /v1/agent/service/register (the definition as JSON, keys
 * as in the file), PUT /v1/agent/service/deregister/<id>.
 * Output follows Consul's command/services: "Registered service: <name>",
 * "Deregistered service: <id>". With files, flags fill what a file's
 * service leaves empty (ID, name, address, port, kind, socket), meta and
 * tagged addresses from flags win, tags are appended, as Consul's
 * CombineArgs.
 * Exit codes: 0 ok (also "-h"); 1 bad flag or arguments, unreadable
 * file, transport or API error; 2 missing or unknown subcommand.
 * Tests: t/t2102-agent-services.sh
 */
#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

struct svc_flags {
    const char *id, *name, *address, *kind, *socket;
    int port;
    struct opt_list tags, meta, tagged;
    struct httpc_flags hf;
};

/* ---- definitions from files ---- */

/* Key names as Consul decodes them: any case, with or without '_'. */
static bool key_is(const char *k, const char *canon)
{
    for (;; k++, canon++) {
        while (*k == '_')
            k++;
        if (tolower((unsigned char)*k) != tolower((unsigned char)*canon))
            return false;
        if (*k == '\0')
            return true;
    }
}

/* Move every spelling of canon in o under canon; returns it (borrowed)
 * or NULL. */
static json_t *take(json_t *o, const char *canon)
{
    json_t *found = NULL, *v;
    const char *k;
    void *tmp;

    json_object_foreach_safe(o, tmp, k, v) {
        if (!key_is(k, canon) || strcmp(k, canon) == 0)
            continue;
        if (found == NULL)
            found = json_incref(v);
        json_object_del(o, k);
    }
    if (found != NULL && json_object_get(o, canon) == NULL)
        json_object_set(o, canon, found);
    json_decref(found);
    return json_object_get(o, canon);
}

static int load_files(int n, char **files, json_t **out, char *err)
{
    json_t *tree = json_object(), *one, *list;

    for (int i = 0; i < n; i++) {
        one = NULL;
        if (cfg_load_file(files[i], CFG_AUTO, &one, err) != 0) {
            json_decref(tree);
            return ERR_INVAL;
        }
        cfg_merge(tree, one);
        json_decref(one);
    }
    list = json_object_get(tree, "services");
    *out = json_is_array(list) ? json_incref(list) : json_array();
    json_decref(tree);
    return 0;
}

/* ---- definitions from flags ---- */

static int kv_pair(const char *s, char **k, const char **v, char *err)
{
    const char *eq = strchr(s, '=');

    if (eq == NULL)
        return err_set(err, ERR_INVAL, "Missing \"=\" value in argument: %s",
                       s);
    *k = strndup(s, (size_t)(eq - s));
    *v = eq + 1;
    return *k != NULL ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

/* "host:port", "[v6]:port" or "host" into {Address, Port}. */
static json_t *service_addr(const char *s)
{
    const char *colon = strrchr(s, ':');
    char host[256];
    long port = 0;

    if (colon == NULL || (strchr(s, ':') != colon && s[0] != '['))
        return json_pack("{s:s, s:i}", "Address", s, "Port", 0);
    port = strtol(colon + 1, NULL, 10);
    snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    return json_pack("{s:s, s:i}", "Address", host, "Port", (int)port);
}

static int map_flags(const struct opt_list *l, bool addr, json_t *into,
                     char *err)
{
    for (int i = 0; i < l->n; i++) {
        char *k;
        const char *v = NULL;

        if (kv_pair(l->items[i], &k, &v, err) != 0)
            return ERR_INVAL;
        json_object_set_new(into, k, addr ? service_addr(v)
                                          : json_string(v));
        free(k);
    }
    return 0;
}

static void fill_str(json_t *s, const char *key, const char *flag)
{
    json_t *v = take(s, key);

    if (flag != NULL && flag[0] != '\0' &&
        (!json_is_string(v) || json_string_length(v) == 0))
        json_object_set_new(s, key, json_string(flag));
}

/* Consul's CombineArgs: the flags complete a file's service. */
static int combine(json_t *s, const struct svc_flags *f, char *err)
{
    json_t *meta, *tagged, *tags, *port;

    fill_str(s, "ID", f->id);
    fill_str(s, "Name", f->name);
    fill_str(s, "Address", f->address);
    fill_str(s, "Kind", f->kind);
    fill_str(s, "SocketPath", f->socket);
    port = take(s, "Port");
    if (f->port != 0 && (!json_is_integer(port) ||
                         json_integer_value(port) == 0))
        json_object_set_new(s, "Port", json_integer(f->port));
    if (!json_is_object(meta = take(s, "Meta")))
        json_object_set_new(s, "Meta", meta = json_object());
    if (!json_is_object(tagged = take(s, "TaggedAddresses")))
        json_object_set_new(s, "TaggedAddresses", tagged = json_object());
    if (!json_is_array(tags = take(s, "Tags")))
        json_object_set_new(s, "Tags", tags = json_array());
    for (int i = 0; i < f->tags.n; i++)
        json_array_append_new(tags, json_string(f->tags.items[i]));
    if (map_flags(&f->meta, false, meta, err) != 0 ||
        map_flags(&f->tagged, true, tagged, err) != 0)
        return ERR_INVAL;
    return 0;
}

static json_t *from_flags(const struct svc_flags *f, char *err)
{
    json_t *s = json_object();

    json_object_set_new(s, "ID", json_string(f->id != NULL ? f->id : ""));
    json_object_set_new(s, "Name", json_string(f->name));
    if (combine(s, f, err) != 0) {
        json_decref(s);
        return NULL;
    }
    /* Flags alone send what Consul's api struct sends: no empty maps. */
    if (json_object_size(json_object_get(s, "TaggedAddresses")) == 0)
        json_object_del(s, "TaggedAddresses");
    if (json_object_size(json_object_get(s, "Meta")) == 0)
        json_object_del(s, "Meta");
    return s;
}

/* ---- calls ---- */

static int put(struct httpc *c, const char *path, const char *query,
               const json_t *body, char *err)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    struct httpc_resp r;
    int rc;

    rc = httpc_do(c, "PUT", path, query, text,
                  text != NULL ? strlen(text) : 0, &r, err);
    free(text);
    if (rc != 0)
        return rc;
    if (r.status != 200) {
        httpc_format_status(&r, err, ERR_LEN);
        rc = ERR_IO;
    }
    httpc_resp_release(&r);
    return rc;
}

static int connect_agent(struct httpc *c, const struct httpc_flags *hf)
{
    char err[ERR_LEN];

    if (httpc_init(c, hf, err) == 0)
        return 0;
    fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
    return -1;
}

static const char *name_of(const json_t *s)
{
    const char *n = json_string_value(json_object_get(s, "Name"));

    return n != NULL ? n : "";
}

static int register_all(const json_t *svcs, const struct httpc_flags *hf)
{
    struct httpc c;
    char err[ERR_LEN];
    const json_t *s;
    size_t i;
    int rc = 0;

    if (connect_agent(&c, hf) != 0)
        return 1;
    json_array_foreach(svcs, i, s) {
        if (put(&c, "/v1/agent/service/register", NULL, s, err) != 0) {
            fprintf(stderr, "Error registering service \"%s\": %s\n",
                    name_of(s), err);
            rc = 1;
            break;
        }
        printf("Registered service: %s\n", name_of(s));
    }
    httpc_release(&c);
    return rc;
}

static int add_common(struct opt *opts, int n, struct svc_flags *f)
{
    httpc_add_flags(opts, &n, &f->hf, true);
    httpc_add_tls_flags(opts, &n, &f->hf);
    return n;
}

static const char reg_synopsis[] = "consul services register [options] "
                                   "[FILE...]";
static const char reg_text[] =
    "  Register one or more services using the local agent API. Services "
    "can\n  be registered from standard Consul configuration files (HCL "
    "or JSON) or\n  using flags. The service is registered and the command "
    "returns. The caller\n  must remember to call \"consul services "
    "deregister\" or a similar API to\n  deregister the service when "
    "complete.\n\n      $ consul services register web.json\n\n  "
    "Additional flags and more advanced use cases are detailed below.";

static int do_register(struct svc_flags *f, int nfiles, char **files)
{
    json_t *svcs = NULL, *s;
    char err[ERR_LEN];
    size_t i;
    int rc = 0;

    if (nfiles == 0 && (f->name == NULL || f->name[0] == '\0')) {
        fprintf(stderr, "Service registration requires at least one "
                "argument or flags.\n");
        return 1;
    }
    if (nfiles > 0 && f->name != NULL && f->name[0] != '\0') {
        fprintf(stderr, "Service registration requires arguments or -id, "
                "not both.\n");
        return 1;
    }
    if (nfiles > 0 && load_files(nfiles, files, &svcs, err) != 0) {
        fprintf(stderr, "Error: %s\n", err);
        return 1;
    }
    if (nfiles == 0) {
        svcs = json_array();
        s = from_flags(f, err);
        if (s != NULL)
            json_array_append_new(svcs, s);
        else
            rc = 1;
    }
    json_array_foreach(svcs, i, s) {
        if (rc == 0 && nfiles > 0 && combine(s, f, err) != 0)
            rc = 1;
    }
    if (rc != 0)
        fprintf(stderr, "Error: %s\n", err);
    else
        rc = register_all(svcs, &f->hf);
    json_decref(svcs);
    return rc;
}

static int services_register(int argc, char **argv)
{
    struct svc_flags f;
    struct opt opts[9 + HTTPC_N_FLAGS + 1];
    int n = 0, rest, rc;

    memset(&f, 0, sizeof(f));
    opts[n++] = (struct opt){.name = "address", .type = OPT_STR,
        .dst = &f.address, .help = "Address of the service to register "
        "for arg-based registration."};
    opts[n++] = (struct opt){.name = "id", .type = OPT_STR, .dst = &f.id,
        .help = "ID of the service to register for arg-based registration. "
        "If this\n    isn't set, it will default to the -name value."};
    opts[n++] = (struct opt){.name = "kind", .type = OPT_STR, .dst = &f.kind,
        .help = "The services 'kind'"};
    opts[n++] = (struct opt){.name = "meta", .type = OPT_STRLIST,
        .dst = &f.meta, .help = "Metadata to set on the service, formatted "
        "as key=value. This flag\n    may be specified multiple times to set "
        "multiple meta fields."};
    opts[n++] = (struct opt){.name = "name", .type = OPT_STR, .dst = &f.name,
        .help = "Name of the service to register for arg-based "
        "registration."};
    opts[n++] = (struct opt){.name = "port", .type = OPT_INT, .dst = &f.port,
        .help = "Port of the service to register for arg-based "
        "registration."};
    opts[n++] = (struct opt){.name = "socket", .type = OPT_STR,
        .dst = &f.socket, .help = "Path to the Unix domain socket to "
        "register for arg-based registration (conflicts with address and "
        "port)."};
    opts[n++] = (struct opt){.name = "tag", .type = OPT_STRLIST,
        .dst = &f.tags, .help = "Tag to add to the service. This flag can "
        "be specified multiple\n    times to set multiple tags."};
    opts[n++] = (struct opt){.name = "tagged-address", .type = OPT_STRLIST,
        .dst = &f.tagged, .help = "Tagged address to set on the service, "
        "formatted as key=value. This flag\n    may be specified multiple "
        "times to set multiple addresses."};
    n = add_common(opts, n, &f);
    rc = opt_parse_cli(opts, n, argc, argv, reg_synopsis, reg_text, &rest);
    if (rc < 0)
        rc = do_register(&f, argc - rest, argv + rest);
    opt_release(opts, n);
    return rc;
}

static const char dereg_synopsis[] = "consul services deregister [options] "
                                     "[FILE...]";
static const char dereg_text[] =
    "  Deregister one or more services that were previously registered "
    "with\n  the local agent.\n\n      $ consul services deregister "
    "web.json db.json\n\n  The -id flag may be used to deregister a single "
    "service by ID:\n\n      $ consul services deregister -id=web\n\n  "
    "Services are deregistered from the local agent catalog. This command "
    "must\n  be run against the same agent where the service was "
    "registered.";

static int deregister_all(const json_t *svcs, const struct httpc_flags *hf)
{
    char err[ERR_LEN], path[1200], *esc;
    struct httpc c;
    const json_t *s;
    const char *id;
    size_t i;
    int rc = 0;

    if (connect_agent(&c, hf) != 0)
        return 1;
    json_array_foreach(svcs, i, s) {
        id = json_string_value(json_object_get(s, "ID"));
        if (id == NULL || id[0] == '\0')
            id = name_of(s);
        if (id[0] == '\0')
            continue;
        esc = httpc_escape(id);
        snprintf(path, sizeof(path), "/v1/agent/service/deregister/%s",
                 esc != NULL ? esc : "");
        free(esc);
        if (put(&c, path, NULL, NULL, err) != 0) {
            fprintf(stderr, "Error deregistering service \"%s\": %s\n", id,
                    err);
            rc = 1;
            break;
        }
        printf("Deregistered service: %s\n", id);
    }
    httpc_release(&c);
    return rc;
}

static int services_deregister(int argc, char **argv)
{
    struct httpc_flags hf = {0};
    const char *id = NULL;
    struct opt opts[1 + HTTPC_N_FLAGS + 1];
    char err[ERR_LEN];
    json_t *svcs, *s;
    int n = 0, rest, rc;
    size_t i;

    opts[n++] = (struct opt){.name = "id", .type = OPT_STR, .dst = &id,
        .help = "ID to delete. This must not be set if arguments are "
        "given."};
    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = opt_parse_cli(opts, n, argc, argv, dereg_synopsis, dereg_text,
                       &rest);
    if (rc >= 0)
        return rc;
    if (rest >= argc && (id == NULL || id[0] == '\0')) {
        fprintf(stderr, "Service deregistration requires at least one "
                "argument or -id.\n");
        return 1;
    }
    if (rest < argc && id != NULL && id[0] != '\0') {
        fprintf(stderr, "Service deregistration requires arguments or -id, "
                "not both.\n");
        return 1;
    }
    if (rest >= argc) {
        svcs = json_pack("[{s:s}]", "ID", id);
    } else if (load_files(argc - rest, argv + rest, &svcs, err) != 0) {
        fprintf(stderr, "Error: %s\n", err);
        return 1;
    }
    json_array_foreach(svcs, i, s) {
        take(s, "ID");
        take(s, "Name");
    }
    rc = deregister_all(svcs, &hf);
    json_decref(svcs);
    return rc;
}

/* ---- services ---- */

static const struct opt_verb verbs[] = {
    {"deregister", services_deregister,
     "Deregister services with the local agent"},
    {"register", services_register, "Register services with the local agent"},
};
#define N_VERBS ((int)(sizeof(verbs) / sizeof(verbs[0])))

static const struct opt_group services_group = {
    "consul services <subcommand> [options] [args]",
    "  This command has subcommands for interacting with services. "
    "The subcommands\n  default to working with services registered "
    "with the local agent. Please see\n  the \"consul catalog\" "
    "command for interacting with the entire catalog.\n\n  For "
    "more examples, ask for subcommand help or view the "
    "documentation.\n\n  Register a service:\n\n      $ consul "
    "services register web.hcl\n\n  Deregister a service:\n\n      "
    "$ consul services deregister web.hcl",
    verbs, N_VERBS, 2, false};

int cmd_services(int argc, char **argv)
{
    return opt_group_run(&services_group, argc, argv);
}
